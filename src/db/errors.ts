// PostgreSQL's SQLSTATE codes for the constraint violations the services turn into 4xx answers
// (both drivers report them the same way).
const CODES = { unique: '23505', foreignKey: '23503' } as const;

/** `err` is a violation of that kind (of that constraint, when named). */
export function isViolation(err: unknown, kind: keyof typeof CODES, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === CODES[kind] && (constraint === undefined || e.constraint === constraint);
}
