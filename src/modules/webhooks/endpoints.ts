import type { Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { canSeeWorkspace, type Actor } from '../../http/actor.js';
import { maskSecret, type MasterKeyRing } from '../../lib/envelope.js';
import { conflict, invalid, notFound } from '../../lib/errors.js';
import { isViolation } from '../../db/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageRequest } from '../../lib/paging.js';
import { assertPublicTarget } from '../../lib/ssrf.js';
import type { AuditService } from '../audit/service.js';
import type { TenancyService } from '../tenancy/service.js';
import { maskHeaders, putHeaders, readHeaders } from './headers.js';
import { endpointSecrets } from './secrets.js';
import { generateSecret, isValidSecret } from './signing.js';
import * as store from './store.js';
import type { Endpoint } from './store.js';
import { wakeDeliveryWorkers } from './store-deliveries.js';

export interface EndpointInput {
  url?: string;
  events?: string[];
  name?: string | null;
  description?: string | null;
  enabled?: boolean;
  timeout_s?: number;
  max_retries?: number;
  max_in_flight?: number;
  headers?: Record<string, string>;
  /** '' or null removes it; absent keeps it. */
  auth_token?: string | null;
  secret?: string;
}

// Headers Gatehouse sets itself, or that would break the request: a custom header may not replace them.
const RESERVED_HEADERS = /^(host|content-length|content-type|transfer-encoding|connection|keep-alive|upgrade|te|trailer|authorization|user-agent|webhook-.*)$/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;

const rate = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 10_000) / 100);

interface Masks {
  auth_token?: string | null;
  headers?: Record<string, string> | null;
}

export function endpointView(e: Endpoint, masks: Masks = {}) {
  const total = Number(e.total);
  const succeeded = Number(e.succeeded);
  return {
    id: e.id,
    workspace_id: e.workspace_id,
    name: e.name,
    description: e.description,
    url: e.url,
    events: e.events,
    enabled: e.enabled,
    disabled_reason: e.disabled_reason,
    timeout_s: e.timeout_s,
    max_retries: e.max_retries,
    max_in_flight: e.max_in_flight,
    // Values still in plain text from before headers were sealed are masked all the same.
    headers: { ...maskHeaders(e.headers), ...masks.headers },
    auth_token: masks.auth_token ?? null,
    stats: { total, succeeded, failed: Number(e.failed), success_rate: rate(succeeded, total), last_called_at: e.last_called_at?.toISOString() ?? null },
    failing_since: e.failing_since?.toISOString() ?? null,
    created_at: e.created_at.toISOString(),
    updated_at: e.updated_at.toISOString(),
  };
}
export type EndpointView = ReturnType<typeof endpointView>;

interface Deps {
  db: Kysely<DB>;
  ring: MasterKeyRing;
  audit: AuditService;
  tenancy: TenancyService;
  allowPrivateTargets: boolean;
  secretOverlapS: number;
  /** Endpoints one workspace may have (its deliveries share the workspace's slots; its events fan out to each). */
  maxEndpoints?: number;
}

export function createEndpointService({ db, ring, audit, tenancy, allowPrivateTargets, secretOverlapS, maxEndpoints = 100 }: Deps) {
  /** The endpoint if the actor may see its workspace; 404 otherwise, as for a missing one. */
  async function locate(actor: Actor, id: string, trx: Executor = db): Promise<Endpoint> {
    const row = await store.getEndpoint(trx, null, id);
    if (!row || !canSeeWorkspace(actor, row.workspace_id)) throw notFound('webhook endpoint');
    return row;
  }

  const masksOf = (trx: Executor, id: string): Promise<Masks> => store.endpointMasks(trx, id);

  /**
   * HTTPS only, unless the workspace is in test mode (set by the platform admin alone) or private
   * targets are allowed; and a public address, whatever test mode says: only
   * GATEHOUSE_ALLOW_PRIVATE_TARGETS lets an endpoint reach this service's own network.
   */
  async function checkUrl(raw: string, testMode: boolean) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalid('url is not a valid URL', { field: 'url' });
    }
    const httpAllowed = testMode || allowPrivateTargets;
    if (url.protocol !== 'https:' && !(httpAllowed && url.protocol === 'http:')) {
      throw invalid(httpAllowed ? 'url must be http(s)' : 'url must be https (http is allowed for a workspace in test mode)', { field: 'url' });
    }
    if (url.username || url.password) throw invalid('url must not hold credentials; use auth_token or headers', { field: 'url' });
    await assertPublicTarget(url, { allowPrivate: allowPrivateTargets, field: 'url' });
    return url.toString();
  }

  /**
   * The values to seal. Views show masks, so a value sent back unchanged as its header's current
   * mask (an edit form that only changed something else) keeps the value it stands for.
   */
  async function headersToSeal(trx: Executor, before: Endpoint, given: Record<string, string>) {
    const current = await readHeaders(trx, ring, before.id, before.headers);
    return Object.fromEntries(Object.entries(given).map(([k, v]) => [k, current[k] !== undefined && v === maskSecret(current[k]) ? current[k] : v]));
  }

  /**
   * The secrets an update would keep while the endpoint moves to another origin. Kept, they would
   * go to whoever owns the new one: a holder of webhooks:write could read them out by pointing the
   * endpoint at its own server. A value sent back as its mask counts as kept.
   */
  async function secretsKeptAcrossMove(trx: Executor, before: Endpoint, input: EndpointInput, url: string | undefined, masks: Masks) {
    if (url === undefined || new URL(url).origin === new URL(before.url).origin) return [];
    const kept = input.auth_token === undefined && masks.auth_token ? ['auth_token'] : [];
    const current = await readHeaders(trx, ring, before.id, before.headers);
    for (const [name, value] of Object.entries(current)) {
      const given = input.headers?.[name];
      if (input.headers === undefined || given === maskSecret(value)) kept.push(`headers.${name}`);
    }
    return kept;
  }

  function checkHeaders(headers: Record<string, string>) {
    for (const name of Object.keys(headers)) {
      if (!HEADER_NAME.test(name)) throw invalid(`headers: "${name}" is not a valid header name`, { field: `headers.${name}` });
      if (RESERVED_HEADERS.test(name)) throw invalid(`headers: ${name} is set by Gatehouse (use auth_token for Authorization)`, { field: `headers.${name}` });
      if (/[\r\n]/.test(headers[name])) throw invalid(`headers: the value of ${name} holds a line break`, { field: `headers.${name}` });
    }
  }

  const isNameTaken = (err: unknown) => isViolation(err, 'unique');

  /** Refuses a workspace's endpoint past maxEndpoints (counted under a lock: see countEndpointsLocked). */
  async function checkEndpointCount(trx: Executor, workspaceId: string) {
    if ((await store.countEndpointsLocked(trx, workspaceId)) >= maxEndpoints) {
      throw conflict(`this workspace has ${maxEndpoints} webhook endpoints, the most it may have; delete one first`, { reason: 'endpoint_limit', limit: maxEndpoints });
    }
  }

  return {
    locate,

    async create(actor: Actor, workspaceId: string, input: EndpointInput & { url: string; events: string[] }) {
      const ws = await tenancy.requireWorkspace(actor, workspaceId);
      const url = await checkUrl(input.url, ws.test_mode);
      if (input.headers) checkHeaders(input.headers);
      if (input.secret !== undefined && !isValidSecret(input.secret)) throw invalid('secret must be whsec_ + base64 of 24 to 64 bytes', { field: 'secret' });
      const secret = input.secret ?? generateSecret();
      try {
        return await db.transaction().execute(async (trx) => {
          await checkEndpointCount(trx, workspaceId);
          const row = await store.insertEndpoint(trx, workspaceId, {
            id: newId('ep'),
            name: input.name ?? null,
            description: input.description ?? null,
            url,
            events: input.events,
            enabled: input.enabled ?? true,
            timeout_s: input.timeout_s,
            max_retries: input.max_retries,
            max_in_flight: input.max_in_flight,
          });
          await endpointSecrets.put(trx, ring, row.id, 'signing', secret);
          if (input.auth_token) await endpointSecrets.put(trx, ring, row.id, 'auth_token', input.auth_token);
          if (input.headers) await putHeaders(trx, ring, row.id, input.headers);
          const view = endpointView(row, await masksOf(trx, row.id));
          await audit.append(trx, actor, { workspaceId, action: 'webhook.created', category: 'webhooks', resource: { type: 'webhook_endpoint', id: row.id }, after: view });
          return { ...view, secret };
        });
      } catch (err) {
        if (isNameTaken(err)) throw conflict(`an endpoint named "${input.name}" exists in this workspace`, { field: 'name' });
        throw err;
      }
    },

    /** A page of the workspace's endpoints, oldest first. */
    async list(actor: Actor, workspaceId: string, page: PageRequest) {
      await tenancy.requireWorkspace(actor, workspaceId);
      const rows = await store.listEndpoints(db, workspaceId, page);
      return toPage(rows, page, (r) => endpointView(r, { auth_token: r.mask, headers: r.masks }));
    },

    async get(actor: Actor, id: string) {
      const row = await locate(actor, id);
      return endpointView(row, await masksOf(db, id));
    },

    async update(actor: Actor, id: string, input: EndpointInput) {
      const found = await locate(actor, id);
      if (input.headers) checkHeaders(input.headers);
      // The URL's name is resolved before the transaction: no lock is held over a DNS wait.
      const ws = await tenancy.requireWorkspace(actor, found.workspace_id);
      const url = input.url === undefined ? undefined : await checkUrl(input.url, ws.test_mode);
      try {
        return await db.transaction().execute(async (trx) => {
          const before = await locate(actor, id, trx);
          const beforeMasks = await masksOf(trx, id);
          const kept = await secretsKeptAcrossMove(trx, before, input, url, beforeMasks);
          if (kept.length) {
            throw invalid('the endpoint moves to another origin: give its auth_token and header values again (or remove them) in the same request', {
              reason: 'destination_changed',
              missing_fields: kept,
            });
          }
          const row = await store.updateEndpoint(trx, before.workspace_id, id, {
            ...(url !== undefined ? { url } : {}),
            ...(input.events !== undefined ? { events: input.events } : {}),
            ...(input.name !== undefined ? { name: input.name } : {}),
            ...(input.description !== undefined ? { description: input.description } : {}),
            ...(input.timeout_s !== undefined ? { timeout_s: input.timeout_s } : {}),
            ...(input.max_retries !== undefined ? { max_retries: input.max_retries } : {}),
            ...(input.max_in_flight !== undefined ? { max_in_flight: input.max_in_flight } : {}),
            // Header values live sealed; the plain-text column only empties.
            ...(input.headers !== undefined ? { headers: '{}' } : {}),
            // Enabling again starts a fresh failure clock; disabling by hand says so.
            ...(input.enabled === true ? { enabled: true, disabled_reason: null, failing_since: null } : {}),
            ...(input.enabled === false ? { enabled: false, disabled_reason: 'disabled by a user' } : {}),
            updated_at: new Date(),
          });
          if (input.auth_token === null || input.auth_token === '') await endpointSecrets.remove(trx, id, 'auth_token');
          else if (input.auth_token !== undefined) await endpointSecrets.put(trx, ring, id, 'auth_token', input.auth_token);
          if (input.headers !== undefined) await putHeaders(trx, ring, id, await headersToSeal(trx, before, input.headers));
          if (input.auth_token !== undefined || input.headers !== undefined) await endpointSecrets.notifyChanged(trx, id);
          // Deliveries waiting for this endpoint may be claimable now (enabled again, more allowed
          // in flight): the workers are told, rather than left to find them on their next poll.
          if ((input.enabled === true && !before.enabled) || (input.max_in_flight ?? 0) > before.max_in_flight) {
            await wakeDeliveryWorkers(trx);
          }
          const view = endpointView(row, await masksOf(trx, id));
          await audit.append(trx, actor, {
            workspaceId: row.workspace_id,
            action: 'webhook.updated',
            category: 'webhooks',
            resource: { type: 'webhook_endpoint', id },
            before: endpointView(before, beforeMasks),
            after: view,
          });
          return view;
        });
      } catch (err) {
        if (isNameTaken(err)) throw conflict(`an endpoint named "${input.name}" exists in this workspace`, { field: 'name' });
        throw err;
      }
    },

    async remove(actor: Actor, id: string) {
      await db.transaction().execute(async (trx) => {
        const before = await locate(actor, id, trx);
        await store.deleteEndpoint(trx, before.workspace_id, id);
        await endpointSecrets.notifyChanged(trx, id);
        await audit.append(trx, actor, { workspaceId: before.workspace_id, action: 'webhook.deleted', category: 'webhooks', resource: { type: 'webhook_endpoint', id }, before: endpointView(before) });
      });
    },

    /**
     * Seals the header values written in plain text before they were sealed (migration 010) and
     * empties the column; each process runs it as it starts, so the row lock makes concurrent runs safe.
     */
    async sealPlaintextHeaders() {
      const ids = await store.endpointsWithPlaintextHeaders(db);
      for (const id of ids) {
        await db.transaction().execute(async (trx) => {
          const plaintext = await store.lockPlaintextHeaders(trx, id);
          if (!plaintext) return;
          await putHeaders(trx, ring, id, await readHeaders(trx, ring, id, plaintext));
          await store.clearPlaintextHeaders(trx, id);
          await endpointSecrets.notifyChanged(trx, id);
        });
      }
      return ids.length;
    },

    /** A new signing secret; the old one keeps signing (both signatures sent) for `overlap_s`. */
    async rotate(actor: Actor, id: string, input: { overlap_s?: number; secret?: string }) {
      if (input.secret !== undefined && !isValidSecret(input.secret)) throw invalid('secret must be whsec_ + base64 of 24 to 64 bytes', { field: 'secret' });
      const secret = input.secret ?? generateSecret();
      const overlapS = input.overlap_s ?? secretOverlapS;
      const previousExpiresAt = new Date(Date.now() + overlapS * 1000);
      return db.transaction().execute(async (trx) => {
        const row = await locate(actor, id, trx);
        await endpointSecrets.retire(trx, id, overlapS > 0 ? previousExpiresAt : null);
        await endpointSecrets.put(trx, ring, id, 'signing', secret);
        await endpointSecrets.notifyChanged(trx, id);
        await audit.append(trx, actor, {
          workspaceId: row.workspace_id,
          action: 'webhook.secret_rotated',
          category: 'webhooks',
          resource: { type: 'webhook_endpoint', id },
          after: { overlap_s: overlapS },
        });
        return { id, secret, previous_secret_expires_at: overlapS > 0 ? previousExpiresAt.toISOString() : null };
      });
    },
  };
}
export type EndpointService = ReturnType<typeof createEndpointService>;
