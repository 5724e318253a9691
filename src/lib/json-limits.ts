/**
 * Limits on parsed JSON that JSON.parse itself does not hold: nesting depth (a body thousands of
 * levels deep parses, then overflows the stack of whatever walks it next: JSON.stringify, a
 * validator, a normaliser) and finite numbers (JSON.parse reads `1e999999` as Infinity, which
 * JSON.stringify would later write as `null`).
 */
export const MAX_JSON_DEPTH = 64;

export interface JsonLimitProblem {
  reason: 'too_deep' | 'number_out_of_range';
  message: string;
  /** Where, as `a/0/b` (empty for the top). */
  path: string;
}

interface Frame {
  key: string;
  parent: Frame | null;
}
const pathOf = (f: Frame | null) => {
  const keys: string[] = [];
  for (let x = f; x; x = x.parent) keys.push(x.key);
  return keys.reverse().join('/');
};

/**
 * One iterative walk (a recursive one could overflow on the very input it guards against). The
 * fast pass keeps no paths; only a value that fails is walked again to name where.
 */
function walk(value: unknown, maxDepth: number, trackPaths: boolean): JsonLimitProblem | null {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  const frames: Array<Frame | null> = [null];
  while (values.length > 0) {
    const v = values.pop();
    // Parallel stacks (no object per entry on this hot path), pushed with `values`: never empty here.
    const depth = depths.pop()!;
    const frame = trackPaths ? (frames.pop() ?? null) : null;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        return { reason: 'number_out_of_range', message: 'the JSON body holds a number out of range (only finite numbers are accepted)', path: pathOf(frame) };
      }
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) {
      return { reason: 'too_deep', message: `the JSON body is nested deeper than ${maxDepth} levels`, path: pathOf(frame) };
    }
    // Strings, booleans, null and finite numbers cannot fail: only containers and bad numbers are
    // stacked. (Inlined twice rather than a closure per container: this runs on every request body.)
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (typeof child === 'number' ? Number.isFinite(child) : child === null || typeof child !== 'object') continue;
        values.push(child);
        depths.push(depth + 1);
        if (trackPaths) frames.push({ key: String(i), parent: frame });
      }
    } else {
      for (const key in v) {
        const child: unknown = (v as Record<string, unknown>)[key];
        if (typeof child === 'number' ? Number.isFinite(child) : child === null || typeof child !== 'object') continue;
        values.push(child);
        depths.push(depth + 1);
        if (trackPaths) frames.push({ key, parent: frame });
      }
    }
  }
  return null;
}

/** The first limit a parsed JSON value breaks, or null. */
export function jsonLimitProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonLimitProblem | null {
  return walk(value, maxDepth, false) && walk(value, maxDepth, true);
}
