/** Times as the portal shows them: in UTC, like the API, the CSV exports and the filters' inputs. */
export function formatWhen(iso: string | null, never = 'never', seconds = false): string {
  if (!iso) return never;
  return new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: seconds ? 'medium' : 'short', timeZone: 'UTC' }) + ' UTC';
}
