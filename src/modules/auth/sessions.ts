import { createHash, randomBytes } from 'node:crypto';
import { storedHeader } from '../../lib/stored-header.js';
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { DB } from '../../db/types.js';
import type { Actor, Role } from '../../http/actor.js';
import { ROLE_SCOPES } from '../apikeys/scopes.js';

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
}

export function createSessionStore(db: Kysely<DB>, limits: SessionLimits) {
  // Not ended, not past its absolute end, not idle too long.
  const isOpen = (eb: ExpressionBuilder<DB, 'sessions'>) =>
    eb.and([eb('ended_at', 'is', null), eb('expires_at', '>', new Date()), eb('last_seen_at', '>', new Date(Date.now() - limits.idleS * 1000))]);
  return {
    /** A new session; the token goes in the cookie and is never stored, only its hash. */
    async open(userId: string, ip: string | null, userAgent: string | null) {
      const token = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(24).toString('base64url');
      await db
        .insertInto('sessions')
        .values({
          id_hash: hashOf(token), public_id: `ses_${randomBytes(16).toString('hex')}`, user_id: userId, csrf_token: csrfToken,
          ip, user_agent: storedHeader(userAgent), expires_at: new Date(Date.now() + limits.maxS * 1000),
        })
        .execute();
      return { token, csrfToken };
    },

    /** A person's open sessions, newest first, by public id: the token and its hash stay inside. */
    async list(userId: string, currentToken: string) {
      const current = hashOf(currentToken);
      const rows = await db.selectFrom('sessions')
        .select(['id_hash', 'public_id', 'ip', 'user_agent', 'created_at', 'last_seen_at', 'expires_at'])
        .where('user_id', '=', userId)
        .where(isOpen)
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map(({ id_hash, ...r }) => ({
        id: r.public_id, ip: r.ip, user_agent: r.user_agent, created_at: r.created_at.toISOString(),
        last_seen_at: r.last_seen_at.toISOString(), expires_at: r.expires_at.toISOString(), current: id_hash === current,
      }));
    },

    /** Ends one of the person's own open sessions; false when they have none by that id. */
    async endById(userId: string, publicId: string) {
      const ended = await db.updateTable('sessions')
        .set({ ended_at: new Date() })
        .where('user_id', '=', userId)
        .where(isOpen)
        .where('public_id', '=', publicId)
        .executeTakeFirst();
      return ended.numUpdatedRows > 0n;
    },

    /** The session if it is open: not ended, not past its absolute end, not idle too long. */
    async read(token: string): Promise<OpenSession | null> {
      const idHash = hashOf(token);
      const row = await db
        .selectFrom('sessions as s')
        .innerJoin('users as u', 'u.id', 's.user_id')
        .select(['s.user_id', 's.csrf_token', 's.last_seen_at', 'u.email', 'u.name', 'u.platform_admin', 'u.mfa_enabled'])
        .where('s.id_hash', '=', idHash)
        .where('s.ended_at', 'is', null)
        .where('s.expires_at', '>', new Date())
        .where('s.last_seen_at', '>', new Date(Date.now() - limits.idleS * 1000))
        .executeTakeFirst();
      if (!row) return null;
      if (Date.now() - row.last_seen_at.getTime() > TOUCH_EVERY_MS) {
        await db.updateTable('sessions').set({ last_seen_at: new Date() }).where('id_hash', '=', idHash).execute();
      }
      const members = await sql<{ workspace_id: string; role: Role; mfa_required: boolean }>`
        select m.workspace_id, m.role, o.mfa_required from members m
        join workspaces w on w.id = m.workspace_id join organizations o on o.id = w.organization_id
        where m.user_id = ${row.user_id}`.execute(db);
      return {
        userId: row.user_id,
        csrfToken: row.csrf_token,
        email: row.email,
        name: row.name,
        platformAdmin: row.platform_admin,
        mfaEnabled: row.mfa_enabled,
        mfaPending: !row.mfa_enabled && members.rows.some((m) => m.mfa_required),
        memberships: Object.fromEntries(members.rows.map((m) => [m.workspace_id, m.role])),
      };
    },

    async end(token: string) {
      await db.updateTable('sessions').set({ ended_at: new Date() }).where('id_hash', '=', hashOf(token)).execute();
    },

    /** Every session of a person (a password change, a lockout by an admin…). */
    async endAll(userId: string) {
      await db.updateTable('sessions').set({ ended_at: new Date() }).where('user_id', '=', userId).where('ended_at', 'is', null).execute();
    },
  };
}
export type SessionStore = ReturnType<typeof createSessionStore>;

/**
 * A signed-in person as an actor: the platform admin holds every scope; anyone else holds, at the
 * route, what their broadest role grants, and per workspace what their role there grants
 * (`canSeeWorkspace` checks `routeScope` against it).
 */
export function personActor(s: OpenSession, request: { ip: string; headers: Record<string, unknown>; id: string }, routeScope?: string): Actor {
  const scopes = s.platformAdmin ? ['*'] : [...new Set(Object.values(s.memberships).flatMap((role) => ROLE_SCOPES[role]))];
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
    routeScope,
  };
}
