import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A wire-true fake of Twilio's account endpoint (see ../shared/PROVIDERS.md): HTTP Basic
 * `AccountSid:AuthToken`, `GET /2010-04-01/Accounts/{Sid}.json` → the account, and Twilio's error
 * body `{code, message, more_info, status}` (20003 "Authenticate" for bad credentials).
 */

export interface TwilioAccount {
  sid: string;
  authToken: string;
  friendlyName: string;
  status: 'active' | 'suspended' | 'closed';
}

export interface SeenTwilioRequest {
  method: string;
  path: string;
  /** The account SID of the Basic credentials, or null without them. */
  username: string | null;
  password: string | null;
  status: number;
}

export interface FakeTwilio {
  /** Base URL (no path), as a credential's base_url. */
  url: string;
  seen: SeenTwilioRequest[];
  addAccount(account: TwilioAccount): void;
  close(): Promise<void>;
}

const error = (code: number, message: string, status: number) => ({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });

export async function startFakeTwilio(): Promise<FakeTwilio> {
  const accounts = new Map<string, TwilioAccount>();
  const seen: SeenTwilioRequest[] = [];

  const server = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://fake');
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const decoded = basic ? Buffer.from(basic, 'base64').toString('utf8') : null;
    const colon = decoded?.indexOf(':') ?? -1;
    const username = decoded && colon >= 0 ? decoded.slice(0, colon) : null;
    const password = decoded && colon >= 0 ? decoded.slice(colon + 1) : null;

    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      seen.push({ method: req.method ?? 'GET', path: url.pathname, username, password, status });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };

    const caller = username ? accounts.get(username) : undefined;
    if (!caller || caller.authToken !== password) {
      return send(401, error(20003, 'Authenticate', 401), { 'www-authenticate': 'Basic realm="Twilio API"' });
    }
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\.json$/.exec(url.pathname);
    if (req.method === 'GET' && match && match[1] === caller.sid) {
      const a = caller;
      return send(200, {
        sid: a.sid,
        friendly_name: a.friendlyName,
        status: a.status,
        type: 'Full',
        owner_account_sid: a.sid,
        date_created: 'Wed, 01 Jan 2025 00:00:00 +0000',
        uri: `/2010-04-01/Accounts/${a.sid}.json`,
      });
    }
    return send(404, error(20404, `The requested resource ${url.pathname} was not found`, 404));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    addAccount(account) {
      accounts.set(account.sid, account);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
