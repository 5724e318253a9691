import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

// Any field whose name looks like it holds a credential is masked, wherever it sits in a log line.
const SECRET_NAME = /(key|secret|token|password|authorization|cookie|signature)/i;
// Names that contain "key" but hold ids, never secrets.
const SAFE_NAME = /^(key_id|keyId|api_key_id|idempotency_key|unique_key)$/;
/** An OpenID Connect callback's authorization code and state: single-use credentials in a query string. */
const FLOW_NAME = /^(code|state)$/;

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Past this depth the subtree is dropped, not passed through unread: a secret nested deeper
  // would otherwise be logged in the clear (and a cycle would never end).
  if (depth > 8) return '[truncated]';
  // Errors go to pino's own serializer untouched, so type, code and stack reach the log.
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  // Only plain data is walked: pino's serializers still need the real request and response objects.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_NAME.test(k) && !SAFE_NAME.test(k) && v != null ? '[redacted]' : redactSecrets(v, depth + 1);
  }
  return out;
}

/** A URL with the values of credential-like query parameters (token, verify_token, key…) masked. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  let changed = false;
  for (const name of new Set(params.keys())) {
    if ((SECRET_NAME.test(name) && !SAFE_NAME.test(name)) || FLOW_NAME.test(name)) {
      params.set(name, '[redacted]');
      changed = true;
    }
  }
  return changed ? `${url.slice(0, q)}?${params.toString()}` : url;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * JSON lines, or, when nothing is given and stdout is a terminal, the same lines made readable
 * (pino-pretty): a person is watching, not a log shipper. Secrets are masked before either.
 */
export function createLogger(level: string, destination?: DestinationStream, opts: { pretty?: boolean } = {}): Logger {
  const readable = opts.pretty ?? (destination === undefined && process.stdout.isTTY === true);
  return pino(
    {
      level,
      base: { service: 'gatehouse' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: (obj) => redactSecrets(obj) as Record<string, unknown> },
      // A request line keeps its path but not a secret passed in the query (Meta's hub.verify_token, ?token=).
      serializers: {
        req: (req: LoggedRequest) => ({ method: req.method, url: redactUrl(req.url ?? ''), host: req.host ?? req.hostname, remoteAddress: req.ip, remotePort: req.socket?.remotePort }),
      },
    },
    readable ? pretty({ destination: destination ?? 1, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }) : destination,
  );
}
