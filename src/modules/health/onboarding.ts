import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/types.js';

/** A workspace's onboarding, read off what exists: a step is done because its evidence is in the database. */
export function createOnboardingService({ db }: { db: Kysely<DB> }) {
  async function tableExists(name: string) {
    const r = await sql<{ t: string | null }>`select to_regclass(${name}) as t`.execute(db);
    return r.rows[0]?.t !== null;
  }

  return {
    async checklist(workspaceId: string) {
      const credentials = await db.selectFrom('credentials').select('provider').where('workspace_id', '=', workspaceId).execute();
      // Only successes of credentials that still exist count: a deleted credential's history does not.
      const tested = await db
        .selectFrom('credential_health as h')
        .innerJoin('credentials as c', (j) => j.onRef('c.workspace_id', '=', 'h.workspace_id').onRef('c.provider', '=', 'h.provider'))
        .select(['h.provider', 'h.last_success_at'])
        .where('h.workspace_id', '=', workspaceId)
        .where('h.last_success_at', 'is not', null)
        .where((eb) => eb('h.last_success_at', '>=', eb.ref('c.created_at')))
        .execute();
      const sync = await db
        .selectFrom('sync_runs')
        .select(['status', 'finished_at'])
        .where('workspace_id', '=', workspaceId)
        .where('status', 'in', ['ok', 'mismatch'])
        .orderBy('started_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      // Inbound sources arrive with the inbound-webhooks release; until their table exists the steps stay open.
      const inbound = (await tableExists('inbound_sources'))
        ? await sql<{ sources: string; received: string }>`
            select (select count(*) from inbound_sources where workspace_id = ${workspaceId}) as sources,
                   (select count(*) from inbound_events where workspace_id = ${workspaceId}) as received`.execute(db)
        : null;
      const sources = Number(inbound?.rows[0]?.sources ?? 0);
      const received = Number(inbound?.rows[0]?.received ?? 0);
      const steps = [
        { id: 'credential_stored', label: 'Store a provider credential', done: credentials.length > 0, detail: credentials.length ? credentials.map((c) => c.provider).join(', ') : 'none yet' },
        { id: 'credential_tested', label: 'Test it successfully', done: tested.length > 0, detail: tested.length ? `last success ${tested[0].last_success_at!.toISOString()}` : 'no successful call yet' },
        { id: 'inbound_configured', label: 'Configure an inbound webhook', done: sources > 0, detail: inbound ? `${sources} source(s)` : 'inbound webhooks are not available in this version' },
        { id: 'inbound_received', label: 'Receive a first inbound event', done: received > 0, detail: inbound ? `${received} event(s)` : 'inbound webhooks are not available in this version' },
        { id: 'first_sync', label: 'Run a first account sync', done: sync !== undefined, detail: sync ? `${sync.status} at ${sync.finished_at?.toISOString()}` : 'not run yet' },
      ];
      return { workspace_id: workspaceId, completed: steps.filter((s) => s.done).length, total: steps.length, steps };
    },
  };
}
export type OnboardingService = ReturnType<typeof createOnboardingService>;
