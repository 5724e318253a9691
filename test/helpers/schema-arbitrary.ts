import fc from 'fast-check';

// JSON Schema (as the OpenAPI document gives each route's body) → a fast-check arbitrary of values
// the schema accepts. Covers what the route schemas use: objects, arrays, strings with formats,
// lengths and patterns, numbers with bounds, booleans, enums/consts, unions, nullables.
type Schema = Record<string, any>;

const FORMATS: Record<string, fc.Arbitrary<string>> = {
  uri: fc.constantFrom('https://example.com/hook', 'https://receiver.example.org/a?b=c'),
  url: fc.constantFrom('https://example.com/hook'),
  email: fc.emailAddress(),
  'date-time': fc.date({ min: new Date('2030-01-01'), max: new Date('2035-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  date: fc.constantFrom('2030-01-01'),
  ipv4: fc.ipV4(),
};

export function arbitraryFor(schema: Schema, defs: Record<string, Schema> = {}): fc.Arbitrary<unknown> {
  if (schema.$ref) return arbitraryFor(defs[schema.$ref.replace(/^#\/components\/schemas\//, '').replace(/#$/, '')] ?? {}, defs);
  if ('const' in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return fc.oneof(...union.map((s: Schema) => arbitraryFor(s, defs)));
  if (schema.allOf) return arbitraryFor(Object.assign({}, ...schema.allOf), defs);
  const type = Array.isArray(schema.type) ? (schema.type.find((t: string) => t !== 'null') ?? 'null') : schema.type;
  switch (type) {
    case 'object': {
      const props: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries<Schema>(schema.properties ?? {})) props[k] = arbitraryFor(s, defs);
      return fc.record(props, { requiredKeys: (schema.required ?? []).filter((k: string) => k in props) });
    }
    case 'array':
      return fc.array(arbitraryFor(schema.items ?? {}, defs), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, 3) });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 1000, (schema.minimum ?? 0) + 1000) });
    case 'number':
      return fc.double({ min: schema.minimum ?? 0, max: schema.maximum ?? 1000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'string': {
      if (schema.format && FORMATS[schema.format]) return FORMATS[schema.format]!;
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? 200));
      const min = schema.minLength ?? 1;
      return fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789 -_.'), minLength: min, maxLength: Math.max(min, Math.min(schema.maxLength ?? 24, 24)) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** One value the schema accepts, the same on every run (fixed seed). */
export const sampleFor = (schema: Schema, defs: Record<string, Schema> = {}, seed = 42) => fc.sample(arbitraryFor(schema, defs), { numRuns: 1, seed })[0];
