import { createHash, randomBytes } from 'node:crypto';
import { storedHeader } from '../../lib/stored-header.js';
import type { Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { INHERITED_ROLE, type Actor, type OrgRole, type Role } from '../../http/actor.js';
import { ROLE_SCOPES } from '../apikeys/scopes.js';
import type { TenancyService } from '../tenancy/service.js';
import * as store from './store-sessions.js';

export const SESSION_COOKIE = 'gatehouse_session';

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');
// last_seen_at is written at most this often: a session read is not a write per request.
const TOUCH_EVERY_MS = 60_000;

export interface SessionLimits {
  idleS: number;
  maxS: number;
}

export interface OpenSession {
  userId: string;
  csrfToken: string;
  email: string;
  name: string;
  platformAdmin: boolean;
  mfaEnabled: boolean;
  /** An organization the person belongs to requires MFA and they have not enrolled: only /v1/auth works. */
  mfaPending: boolean;
  memberships: Record<string, Role>;
  /** Their role in each organization they belong to as such. */
  organizations: Record<string, OrgRole>;
}

export function createSessionStore(db: Kysely<DB>, tenancy: Pick<TenancyService, 'personOf'>, limits: SessionLimits) {
  return {
    /** A new session; the token goes in the cookie and is never stored, only its hash. */
    async open(userId: string, ip: string | null, userAgent: string | null) {
      const token = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(24).toString('base64url');
      await store.insertSession(db, {
        id_hash: hashOf(token), public_id: `ses_${randomBytes(16).toString('hex')}`, user_id: userId, csrf_token: csrfToken,
        ip, user_agent: storedHeader(userAgent), expires_at: new Date(Date.now() + limits.maxS * 1000),
      });
      return { token, csrfToken };
    },

    /** A person's open sessions, newest first, by public id: the token and its hash stay inside. */
    async list(userId: string, currentToken: string) {
      const current = hashOf(currentToken);
      const rows = await store.openSessionsOf(db, userId, limits.idleS);
      return rows.map(({ id_hash, ...r }) => ({
        id: r.public_id, ip: r.ip, user_agent: r.user_agent, created_at: r.created_at.toISOString(),
        last_seen_at: r.last_seen_at.toISOString(), expires_at: r.expires_at.toISOString(), current: id_hash === current,
      }));
    },

    /** Ends one of the person's own open sessions; false when they have none by that id. */
    endById: (userId: string, publicId: string) => store.endOpenSession(db, userId, publicId, limits.idleS),

    /** The session if it is open: not ended, not past its absolute end, not idle too long. */
    async read(token: string): Promise<OpenSession | null> {
      const idHash = hashOf(token);
      const row = await store.openSession(db, idHash, limits.idleS);
      if (!row) return null;
      if (Date.now() - row.last_seen_at.getTime() > TOUCH_EVERY_MS) await store.touchSession(db, idHash);
      const person = await tenancy.personOf(row.user_id);
      if (!person) return null;
      return {
        userId: row.user_id,
        csrfToken: row.csrf_token,
        email: person.email,
        name: person.name,
        platformAdmin: person.platform_admin,
        mfaEnabled: person.mfa_enabled,
        mfaPending: !person.mfa_enabled && person.mfa_required,
        memberships: person.memberships,
        organizations: person.organizations,
      };
    },

    end: (token: string) => store.endSession(db, hashOf(token)),

    /** Every session of a person (a password reset, a lockout by an admin…), in `trx` when given. */
    endAll: (userId: string, trx: Executor = db) => store.endSessionsOf(trx, userId),

    /** Every session of a person but the one holding `keepToken`; how many were ended. */
    endOthers: (userId: string, keepToken: string, trx: Executor = db) => store.endSessionsOfExcept(trx, userId, hashOf(keepToken)),
  };
}
export type SessionStore = ReturnType<typeof createSessionStore>;

/**
 * A signed-in person as an actor: the platform admin holds every scope; anyone else holds, at the
 * route, what their broadest role grants, and per workspace what their role there grants
 * (`canSeeWorkspace` checks `routeScope` against it).
 */
export function personActor(s: OpenSession, request: { ip: string; headers: Record<string, unknown>; id: string }, routeScope?: string): Actor {
  // At the route, the broadest of their roles; an organization role counts as what its workspaces inherit.
  const roles = [...Object.values(s.memberships), ...Object.values(s.organizations).map((r) => INHERITED_ROLE[r])];
  const scopes = s.platformAdmin ? ['*'] : [...new Set(roles.flatMap((role) => ROLE_SCOPES[role]))];
  return {
    type: 'user',
    id: s.userId,
    workspaceId: null,
    platformAdmin: s.platformAdmin,
    scopes,
    ip: request.ip,
    userAgent: typeof request.headers['user-agent'] === 'string' ? request.headers['user-agent'] : null,
    requestId: request.id,
    memberships: s.memberships,
    organizations: s.organizations,
    routeScope,
  };
}
