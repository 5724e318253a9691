import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A wire-true fake of a self-hosted Email Bison instance (see ../shared/PROVIDERS.md), served on
 * 127.0.0.1 under `/api`. It speaks Laravel/Sanctum as Email Bison does: `Bearer <id>|<secret>`
 * tokens, `{message}` error bodies, Laravel pagination (`data`, `links`, `meta`, 15 per page).
 *
 * Two token kinds, as on the real thing:
 * - api-user: bound to one workspace (team) for good;
 * - super-admin: acts on the instance's *current* team, which `POST /api/workspaces/v1.1/switch-workspace`
 *   changes for every holder of that token at once. That shared state is the root of the
 *   "403 accounts reported for a workspace that has 282" bug Gatehouse exists to prevent.
 *
 * Every request is recorded in `seen` (with the token it carried) so tests can prove which
 * credential reached the provider, and that none did when none should have.
 */

export interface SenderEmail {
  id: number;
  name: string;
  email: string;
  daily_limit: number;
  type: string;
  status: string;
  warmup_enabled: boolean;
  tags: unknown[];
  created_at: string;
}

export interface SeenRequest {
  method: string;
  /** The path as received, e.g. `/api/sender-emails`. */
  path: string;
  query: Record<string, string | string[]>;
  /** The bearer token the request carried, or null without one. */
  token: string | null;
  body: unknown;
  /** Status the fake answered. */
  status: number;
  /** When it arrived (Date.now()). */
  at: number;
}

export interface TeamOptions {
  /**
   * The account at the end of page 1 is served again at the start of page 2, as Email Bison does when
   * an account is inserted mid-scan: offset pagination shifts by one while `meta.total` stays the
   * number of distinct accounts.
   */
  repeatAcrossPages?: boolean;
  /** Added to `meta.total` only: the provider's own count disagrees with what it pages out. */
  totalSkew?: number;
}

/** Injected failures: the next `times` matching requests get `status` (Laravel's own bodies). */
export interface FailureRule {
  status: 429 | 500 | 502 | 503 | 401 | 403;
  times: number;
  /** Seconds, sent as `Retry-After` (429 only). */
  retryAfter?: number;
  /** Only requests to this path (relative to `/api`, without the query), e.g. `/sender-emails`. */
  path?: string;
  method?: string;
  /** Only requests carrying this token. */
  token?: string;
  /** Only pages at or after this number (`?page=N`), to fail mid-sync. */
  fromPage?: number;
}

interface Team {
  id: number;
  name: string;
  accounts: SenderEmail[];
  options: TeamOptions;
}

export interface TokenInfo {
  token: string;
  kind: 'api-user' | 'super-admin';
  /** api-user: its team for good. */
  teamId: number | null;
  name: string;
  /** True when minted through `POST /api/workspaces/v1.1/{id}/api-tokens`. */
  minted: boolean;
  /** Revoked on the provider: it now answers 401. */
  revoked: boolean;
  user: { id: number; name: string; email: string };
}

export interface FakeEmailBison {
  /** Base URL including `/api`, as an instance's base_url. */
  url: string;
  port: number;
  seen: SeenRequest[];
  addTeam(teamId: number, accounts: number | Array<Partial<SenderEmail>>, options?: TeamOptions): SenderEmail[];
  setTeamOptions(teamId: number, options: TeamOptions): void;
  addApiToken(teamId: number, name?: string): string;
  addSuperAdminToken(currentTeamId: number): string;
  revokeToken(token: string): void;
  tokenInfo(token: string): TokenInfo | undefined;
  /** Every token ever issued, revoked ones included. */
  tokens(): TokenInfo[];
  /** The team a super-admin token currently acts on. */
  currentTeam(): number;
  fail(rule: FailureRule): void;
  clearFailures(): void;
  /** Requests that carried `token`. */
  seenWith(token: string): SeenRequest[];
  close(): Promise<void>;
}

const PER_PAGE = 15;
const secret = () => randomBytes(30).toString('base64url').replace(/[-_]/g, '').slice(0, 40);

function accountFor(teamId: number, i: number, id: number, given: Partial<SenderEmail> = {}): SenderEmail {
  return {
    id,
    name: `Sender ${teamId}-${i + 1}`,
    email: `sender${i + 1}@team${teamId}.example`,
    daily_limit: 30,
    type: 'google_workspace_oauth',
    status: 'Connected',
    warmup_enabled: true,
    tags: [],
    created_at: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    ...given,
  };
}

export async function startFakeEmailBison(): Promise<FakeEmailBison> {
  const teams = new Map<number, Team>();
  const tokens = new Map<string, TokenInfo>();
  const failures: FailureRule[] = [];
  const seen: SeenRequest[] = [];
  let nextTokenId = 1;
  let nextAccountId = 1000;
  let nextUserId = 1;
  let currentTeamId = 0;
  let base = '';

  function issueToken(kind: TokenInfo['kind'], teamId: number | null, name: string, minted: boolean): TokenInfo {
    const token = `${nextTokenId++}|${secret()}`;
    const userId = nextUserId++;
    const info: TokenInfo = {
      token,
      kind,
      teamId,
      name,
      minted,
      revoked: false,
      user: kind === 'super-admin' ? { id: userId, name: 'Agency Owner', email: `owner${userId}@agency.example` } : { id: userId, name: `Team ${teamId} API user`, email: `api${userId}@team${teamId}.example` },
    };
    tokens.set(token, info);
    return info;
  }

  const live = (token: string) => {
    const info = tokens.get(token);
    return info && !info.revoked ? info : undefined;
  };

  /** Laravel's pagination envelope over `slots` (the sequence the offset query walks). */
  function paginate(team: Team, page: number) {
    const list = team.options.repeatAcrossPages && team.accounts.length > PER_PAGE
      ? [...team.accounts.slice(0, PER_PAGE), team.accounts[PER_PAGE - 1], ...team.accounts.slice(PER_PAGE)]
      : team.accounts;
    const lastPage = Math.max(1, Math.ceil(list.length / PER_PAGE));
    const data = list.slice((page - 1) * PER_PAGE, page * PER_PAGE);
    const link = (p: number) => `${base}/sender-emails?page=${p}`;
    return {
      data,
      links: { first: link(1), last: link(lastPage), prev: page > 1 ? link(page - 1) : null, next: page < lastPage ? link(page + 1) : null },
      meta: {
        current_page: page,
        from: data.length ? (page - 1) * PER_PAGE + 1 : null,
        last_page: lastPage,
        path: `${base}/sender-emails`,
        per_page: PER_PAGE,
        to: data.length ? (page - 1) * PER_PAGE + data.length : null,
        total: team.accounts.length + (team.options.totalSkew ?? 0),
      },
    };
  }

  function takeFailure(method: string, apiPath: string, page: number, token: string | null): FailureRule | undefined {
    const rule = failures.find(
      (r) => r.times > 0 && (!r.path || r.path === apiPath) && (!r.method || r.method === method) && (!r.token || r.token === token) && (!r.fromPage || page >= r.fromPage),
    );
    if (rule) rule.times--;
    return rule;
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  function route(method: string, apiPath: string, query: URLSearchParams, body: unknown, auth: TokenInfo | undefined): { status: number; body: unknown; headers?: Record<string, string> } {
    if (!auth) return { status: 401, body: { message: 'Unauthenticated.' } };
    // The team this request acts on: an api-user's own, or a super-admin's current one.
    const teamId = auth.kind === 'api-user' ? auth.teamId! : currentTeamId;

    if (method === 'GET' && apiPath === '/users') return { status: 200, body: { data: auth.user } };

    if (method === 'GET' && apiPath === '/sender-emails') {
      const team = teams.get(teamId);
      if (!team) return { status: 403, body: { message: 'This action is unauthorized.' } };
      const page = Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1);
      return { status: 200, body: paginate(team, page) };
    }

    if (method === 'POST' && apiPath === '/workspaces/v1.1/switch-workspace') {
      if (auth.kind !== 'super-admin') return { status: 403, body: { message: 'This action is unauthorized.' } };
      const target = Number(get(body, 'team_id'));
      const team = teams.get(target);
      if (!team) return { status: 422, body: { message: 'The selected team id is invalid.', errors: { team_id: ['The selected team id is invalid.'] } } };
      currentTeamId = team.id;
      return { status: 200, body: { data: { id: team.id, name: team.name, personal_team: false } } };
    }

    const mint = /^\/workspaces\/v1\.1\/(\d+)\/api-tokens$/.exec(apiPath);
    if (method === 'POST' && mint) {
      if (auth.kind !== 'super-admin') return { status: 403, body: { message: 'This action is unauthorized.' } };
      const team = teams.get(Number(mint[1]));
      if (!team) return { status: 404, body: { message: 'No query results for model [App\\Models\\Team].' } };
      const name = typeof get(body, 'name') === 'string' ? String(get(body, 'name')) : '';
      if (!name) return { status: 422, body: { message: 'The name field is required.', errors: { name: ['The name field is required.'] } } };
      const info = issueToken('api-user', team.id, name, true);
      return { status: 200, body: { data: { id: Number(info.token.split('|')[0]), name, plain_text_token: info.token } } };
    }

    return { status: 404, body: { message: `The route api${apiPath} could not be found.` } };
  }

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = await readBody(req);
    const header = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? null;
    const query: Record<string, string | string[]> = {};
    for (const k of new Set(url.searchParams.keys())) {
      const all = url.searchParams.getAll(k);
      query[k] = all.length > 1 ? all : all[0];
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const apiPath = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : null;
    const page = Number.parseInt(url.searchParams.get('page') ?? '1', 10) || 1;

    let answer: { status: number; body: unknown; headers?: Record<string, string> };
    const failure = apiPath === null ? undefined : takeFailure(method, apiPath, page, token);
    if (apiPath === null) {
      answer = { status: 404, body: { message: `The route ${url.pathname.slice(1)} could not be found.` } };
    } else if (failure) {
      answer =
        failure.status === 429
          ? { status: 429, body: { message: 'Too Many Attempts.' }, headers: { 'retry-after': String(failure.retryAfter ?? 1), 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '0' } }
          : failure.status === 401
            ? { status: 401, body: { message: 'Unauthenticated.' } }
            : failure.status === 403
              ? { status: 403, body: { message: 'This action is unauthorized.' } }
              : { status: failure.status, body: { message: 'Server Error' } };
    } else {
      answer = route(method, apiPath, url.searchParams, body, token ? live(token) : undefined);
    }
    seen.push({ method, path: url.pathname, query, token, body, status: answer.status, at });
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', ...answer.headers });
    res.end(text);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}/api`;

  return {
    url: base,
    port,
    seen,
    addTeam(teamId, accounts, options = {}) {
      const given: Array<Partial<SenderEmail>> = typeof accounts === 'number' ? Array.from({ length: accounts }, () => ({})) : accounts;
      const list = given.map((a, i) => accountFor(teamId, i, a.id ?? nextAccountId++, a));
      teams.set(teamId, { id: teamId, name: `Team ${teamId}`, accounts: list, options });
      if (!currentTeamId) currentTeamId = teamId;
      return list;
    },
    setTeamOptions(teamId, options) {
      const team = teams.get(teamId);
      if (!team) throw new Error(`no team ${teamId}`);
      team.options = options;
    },
    addApiToken(teamId, name = 'api') {
      if (!teams.has(teamId)) throw new Error(`no team ${teamId}`);
      return issueToken('api-user', teamId, name, false).token;
    },
    addSuperAdminToken(currentTeam) {
      if (!teams.has(currentTeam)) throw new Error(`no team ${currentTeam}`);
      currentTeamId = currentTeam;
      return issueToken('super-admin', null, 'super admin', false).token;
    },
    revokeToken(token) {
      const info = tokens.get(token);
      if (info) info.revoked = true;
    },
    tokenInfo: (token) => tokens.get(token),
    tokens: () => [...tokens.values()],
    currentTeam: () => currentTeamId,
    fail(rule) {
      failures.push({ ...rule });
    },
    clearFailures() {
      failures.length = 0;
    },
    seenWith: (token) => seen.filter((s) => s.token === token),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function get(v: unknown, key: string): unknown {
  return v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
}
