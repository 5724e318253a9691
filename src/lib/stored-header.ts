// Header values are the caller's to fill (a 13 KB User-Agent made 13 KB rows): wherever one is
// stored (audit entries, sessions, inbound events and refusals) only this much is kept.
export const STORED_HEADER_MAX = 256;

export function storedHeader(value: string | string[] | null | undefined): string | null {
  return typeof value === 'string' ? value.slice(0, STORED_HEADER_MAX) : null;
}
