import { resolve } from 'node:path';
import { z } from 'zod';
import { checkTrustedProxies } from './http/client-ip.js';
import { parseMasterKeys } from './lib/envelope.js';
import { parseSigningKey, parseTrustedKeys } from './modules/audit/signing-key.js';
import { DEFAULT_RETRY_SCHEDULE_S } from './modules/webhooks/retry.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A key variable checked by its own parser; the message names the problem, never the key. */
function refineWith(v: string | undefined, ctx: z.RefinementCtx, parse: (text: string) => unknown) {
  if (v === undefined) return;
  try {
    parse(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
}

const splitList = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

/** Every variable Gatehouse reads, described once; nothing else reads process.env. */
const envSchema = z.object({
  GATEHOUSE_PORT: port.default(8080).describe('HTTP port of the API, portal and inbound receiver'),
  GATEHOUSE_HOST: z.string().min(1).default('0.0.0.0').describe('interface to listen on'),
  GATEHOUSE_DATA_DIR: z
    .string()
    .min(1)
    .default('./.gatehouse')
    .describe('folder of the embedded PGlite database and the generated master key'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional()
    .describe('PostgreSQL connection string; when unset the embedded PGlite database is used'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional()
    .describe('Redis for rate-limit counters shared by several processes; memory when unset'),
  GATEHOUSE_PUBLIC_URL: z.url().optional().describe('external base URL used in receiving URLs'),
  GATEHOUSE_SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, 'must be an smtp:// or smtps:// URL, e.g. smtp://user:pass@mail.example.com:587')
    .optional()
    .describe('SMTP server that sends email (password resets, invitations); unset: nothing is emailed and links are shown to the person instead'),
  GATEHOUSE_MAIL_FROM: z
    .string()
    .min(3)
    .max(320)
    .optional()
    .describe('From address of the email Gatehouse sends, e.g. "Gatehouse <no-reply@example.com>" (default: gatehouse@ the host of GATEHOUSE_PUBLIC_URL)'),
  GATEHOUSE_DNS_SERVERS: z
    .string()
    .regex(/^[\w.:\[\]-]+(,[\w.:\[\]-]+)*$/, 'must be a comma-separated list of address[:port]')
    .optional()
    .describe("DNS servers for single sign-on domain proofs (TXT records), e.g. 1.1.1.1,8.8.8.8 (default: the system's)"),
  GATEHOUSE_ALLOW_PRIVATE_TARGETS: bool
    .default(false)
    .describe('allow outbound calls to loopback, private and metadata addresses'),
  GATEHOUSE_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level'),
  GATEHOUSE_BODY_LIMIT: positiveInt.default(1024 * 1024).describe('largest request body in bytes'),
  GATEHOUSE_TRUST_PROXY: bool
    .default(false)
    .describe('older switch: true believes X-Forwarded-For from any peer; prefer GATEHOUSE_TRUSTED_PROXIES, which wins when both are set'),
  GATEHOUSE_TRUSTED_PROXIES: z
    .string()
    .optional()
    .superRefine((v, ctx) => refineWith(v, ctx, (text) => checkTrustedProxies(splitList(text))))
    .describe('comma-separated CIDRs (or loopback, linklocal, uniquelocal) of the proxies in front: X-Forwarded-For is believed only from a peer inside them'),
  GATEHOUSE_USAGE_FLUSH_MS: positiveInt
    .default(1000)
    .describe('how often batched key usage is written to the database'),
  GATEHOUSE_KEY_CACHE_TTL_MS: positiveInt
    .default(60_000)
    .describe('upper bound on how long a verified key is cached (NOTIFY invalidates sooner)'),
  GATEHOUSE_WORKER_CONCURRENCY: positiveInt.default(8).describe('jobs one worker runs at once'),
  GATEHOUSE_TRACING: z
    .enum(['off', 'otlp'])
    .default('off')
    .describe('otlp: OpenTelemetry traces from event accept to delivery attempt, sent to OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318)'),
  GATEHOUSE_METRICS_ADDR: z
    .string()
    .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9464 or [::1]:9464')
    .transform((v) => ({ host: v.slice(0, v.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1'), port: Number(v.slice(v.lastIndexOf(':') + 1)) }))
    .refine((a) => a.port <= 65535, 'the port must be 0-65535')
    .optional()
    .describe('host:port of a listener of its own for /metrics; when set, the API (and the worker port) no longer serve /metrics'),
  GATEHOUSE_WORKER_PORT: port
    .optional()
    .describe('port on which `gatehouse worker` answers /healthz, /readyz and /metrics; unset: no listener'),
  GATEHOUSE_MASTER_KEYS: z
    .string()
    .optional()
    .superRefine((v, ctx) => refineWith(v, ctx, parseMasterKeys))
    .describe('vault master keys "v2:<base64 32 bytes>,v1:<…>", first active; default: <data dir>/master.key'),
  GATEHOUSE_AUDIT_SIGNING_KEY: z
    .string()
    .optional()
    .superRefine((v, ctx) => refineWith(v, ctx, parseSigningKey))
    .describe('Ed25519 key that signs audit checkpoints (PKCS#8 PEM, or base64 of a PKCS#8 DER or a 32-byte seed); default: <data dir>/audit-signing.key'),
  GATEHOUSE_AUDIT_TRUSTED_KEYS: z
    .string()
    .optional()
    .superRefine((v, ctx) => refineWith(v, ctx, parseTrustedKeys))
    .describe('public keys (base64, comma-separated) of earlier audit signing keys whose checkpoints still verify after a rotation'),
  GATEHOUSE_AUDIT_CHECKPOINT_FILE: z.string().min(1).optional().describe('file to which each signed audit checkpoint is appended as a JSON line, outside the database'),
  GATEHOUSE_AUDIT_CHECKPOINT_URL: z.url().optional().describe('URL to which each signed audit checkpoint is POSTed (Standard Webhooks v1a signature with the checkpoint key)'),
  GATEHOUSE_CREDENTIAL_CACHE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(30_000)
    .describe('how long a decrypted credential stays in memory (0: decrypt on every call)'),
  GATEHOUSE_UPSTREAM_TIMEOUT_MS: positiveInt.default(30_000).describe('timeout of one upstream request'),
  GATEHOUSE_UPSTREAM_BREAKER_RESET_S: positiveInt
    .default(30)
    .describe('a provider target that keeps failing (no answer or 5xx) gets no calls for this long, then one trial call'),
  GATEHOUSE_CALL_LOG_RETENTION_DAYS: positiveInt.default(90).describe('upstream call log retention'),
  GATEHOUSE_MONITOR_INTERVAL_MS: positiveInt.default(15 * 60_000).describe('how often every active credential is tested'),
  GATEHOUSE_SYNC_INTERVAL_MS: positiveInt.default(6 * 3600_000).describe('how often Email Bison sender emails are synced'),
  GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .regex(/^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$/, 'must be a comma-separated list of seconds, e.g. 5,300,1800')
    .optional()
    .describe('delays in seconds before each retry of a webhook delivery (default 5,300,1800,7200,18000,36000,36000)'),
  GATEHOUSE_WEBHOOK_DISABLE_AFTER_S: positiveInt
    .default(5 * 86_400)
    .describe('an endpoint failing continuously this long is disabled'),
  GATEHOUSE_WEBHOOK_SECRET_OVERLAP_S: z.coerce
    .number()
    .int()
    .min(0)
    .default(86_400)
    .describe('how long a rotated signing secret still signs (default 24 h)'),
  GATEHOUSE_DELIVERY_CONCURRENCY: positiveInt.default(32).describe('webhook deliveries one worker makes at once'),
  GATEHOUSE_WORKSPACE_DELIVERY_CONCURRENCY: positiveInt
    .optional()
    .describe("webhook deliveries of one workspace one worker makes at once, so one workspace's slow endpoints cannot hold every slot (default: a quarter of GATEHOUSE_DELIVERY_CONCURRENCY, at least 1)"),
  GATEHOUSE_WORKSPACE_MAX_ENDPOINTS: positiveInt.default(100).describe('webhook endpoints one workspace may register (409 past it)'),
  GATEHOUSE_WORKSPACE_EVENTS_PER_S: positiveInt
    .default(1000)
    .describe('events one workspace may send a second, counted over 10 s windows (429 with Retry-After past it; shared through REDIS_URL)'),
  GATEHOUSE_WEBHOOK_RETENTION_DAYS: positiveInt.default(30).describe('finished deliveries and their attempts are pruned past this'),
  GATEHOUSE_INBOUND_BODY_LIMIT: positiveInt.default(1_048_576).describe('largest inbound webhook body in bytes (413 past it)'),
  GATEHOUSE_INBOUND_TOLERANCE_S: positiveInt.default(300).describe('how old a signed inbound timestamp may be, in seconds'),
  GATEHOUSE_INBOUND_SILENT_AFTER_S: positiveInt
    .default(86_400)
    .describe('a source that usually receives alerts (gatehouse.inbound.silent) after this long without an event'),
  GATEHOUSE_INBOUND_RETENTION_DAYS: positiveInt.default(30).describe('inbound events and rejections are pruned past this'),
  GATEHOUSE_INVITATION_TTL_S: positiveInt.default(7 * 86_400).describe('how long an invitation link works (7 days by default)'),
  GATEHOUSE_SESSION_IDLE_S: positiveInt.default(1800).describe('a portal session ends after this long without a request'),
  GATEHOUSE_SESSION_MAX_S: positiveInt.default(43_200).describe('a portal session ends this long after sign-in, whatever happens'),
  GATEHOUSE_LOGIN_LOCK_AFTER: positiveInt.default(5).describe('failed sign-ins in a row before an account locks'),
  GATEHOUSE_LOGIN_LOCK_S: positiveInt.default(900).describe('the first lock, in seconds; each failure after a lock has run out doubles it (a day at most); attempts during a lock neither count nor extend it'),
  GATEHOUSE_LOGIN_IP_LIMIT: positiveInt.default(30).describe('sign-in attempts one address may make a minute, refused (429) before any password is hashed'),
  GATEHOUSE_LOGIN_ACCOUNT_LIMIT: positiveInt.default(10).describe('sign-in attempts for one email a minute, from any address, refused (429) before any password is hashed'),
  GATEHOUSE_AUTH_FAILURE_LIMIT: positiveInt.default(100).describe('failed API authentications one address may make a minute; past it they answer 429 (valid keys are never affected)'),
  GATEHOUSE_SHUTDOWN_TIMEOUT_MS: positiveInt
    .default(25_000)
    .describe('how long SIGTERM waits for in-flight requests and jobs'),
});

/** The environment as the code reads it: the one description of Config, whose type is inferred from it. */
const configSchema = envSchema.transform((e) => ({
  port: e.GATEHOUSE_PORT,
  host: e.GATEHOUSE_HOST,
  dataDir: resolve(e.GATEHOUSE_DATA_DIR),
  databaseUrl: e.DATABASE_URL,
  redisUrl: e.REDIS_URL,
  publicUrl: (e.GATEHOUSE_PUBLIC_URL ?? `http://localhost:${e.GATEHOUSE_PORT}`).replace(/\/$/, ''),
  allowPrivateTargets: e.GATEHOUSE_ALLOW_PRIVATE_TARGETS,
  dnsServers: e.GATEHOUSE_DNS_SERVERS?.split(','),
  /** Holds credentials when the server needs them: never logged. */
  invitationTtlS: e.GATEHOUSE_INVITATION_TTL_S,
  smtpUrl: e.GATEHOUSE_SMTP_URL,
  mailFrom: e.GATEHOUSE_MAIL_FROM ?? `Gatehouse <gatehouse@${new URL(e.GATEHOUSE_PUBLIC_URL ?? 'http://localhost').hostname}>`,
  logLevel: e.GATEHOUSE_LOG_LEVEL,
  bodyLimit: e.GATEHOUSE_BODY_LIMIT,
  trustProxy: e.GATEHOUSE_TRUST_PROXY || e.GATEHOUSE_TRUSTED_PROXIES !== undefined,
  /** Peers whose X-Forwarded-For is believed: 'all', or these ranges (none: the socket address is the client). */
  trustedProxies: e.GATEHOUSE_TRUSTED_PROXIES !== undefined ? splitList(e.GATEHOUSE_TRUSTED_PROXIES) : e.GATEHOUSE_TRUST_PROXY ? ('all' as const) : [],
  usageFlushMs: e.GATEHOUSE_USAGE_FLUSH_MS,
  keyCacheTtlMs: e.GATEHOUSE_KEY_CACHE_TTL_MS,
  workerConcurrency: e.GATEHOUSE_WORKER_CONCURRENCY,
  workerPort: e.GATEHOUSE_WORKER_PORT,
  /** Where /metrics is served apart from the API, when set. */
  metricsAddr: e.GATEHOUSE_METRICS_ADDR,
  tracing: e.GATEHOUSE_TRACING,
  upstreamBreakerResetS: e.GATEHOUSE_UPSTREAM_BREAKER_RESET_S,
  shutdownTimeoutMs: e.GATEHOUSE_SHUTDOWN_TIMEOUT_MS,
  masterKeys: e.GATEHOUSE_MASTER_KEYS,
  auditSigningKey: e.GATEHOUSE_AUDIT_SIGNING_KEY,
  auditTrustedKeys: e.GATEHOUSE_AUDIT_TRUSTED_KEYS,
  auditCheckpointFile: e.GATEHOUSE_AUDIT_CHECKPOINT_FILE && resolve(e.GATEHOUSE_AUDIT_CHECKPOINT_FILE),
  auditCheckpointUrl: e.GATEHOUSE_AUDIT_CHECKPOINT_URL,
  credentialCacheMs: e.GATEHOUSE_CREDENTIAL_CACHE_MS,
  upstreamTimeoutMs: e.GATEHOUSE_UPSTREAM_TIMEOUT_MS,
  callLogRetentionDays: e.GATEHOUSE_CALL_LOG_RETENTION_DAYS,
  monitorIntervalMs: e.GATEHOUSE_MONITOR_INTERVAL_MS,
  syncIntervalMs: e.GATEHOUSE_SYNC_INTERVAL_MS,
  webhookRetryScheduleS: e.GATEHOUSE_WEBHOOK_RETRY_SCHEDULE?.split(',').map(Number) ?? DEFAULT_RETRY_SCHEDULE_S,
  webhookDisableAfterS: e.GATEHOUSE_WEBHOOK_DISABLE_AFTER_S,
  webhookSecretOverlapS: e.GATEHOUSE_WEBHOOK_SECRET_OVERLAP_S,
  deliveryConcurrency: e.GATEHOUSE_DELIVERY_CONCURRENCY,
  workspaceDeliveryConcurrency: e.GATEHOUSE_WORKSPACE_DELIVERY_CONCURRENCY ?? Math.max(1, Math.floor(e.GATEHOUSE_DELIVERY_CONCURRENCY / 4)),
  workspaceMaxEndpoints: e.GATEHOUSE_WORKSPACE_MAX_ENDPOINTS,
  workspaceEventsPerS: e.GATEHOUSE_WORKSPACE_EVENTS_PER_S,
  webhookRetentionDays: e.GATEHOUSE_WEBHOOK_RETENTION_DAYS,
  inboundBodyLimit: e.GATEHOUSE_INBOUND_BODY_LIMIT,
  inboundToleranceS: e.GATEHOUSE_INBOUND_TOLERANCE_S,
  inboundSilentAfterS: e.GATEHOUSE_INBOUND_SILENT_AFTER_S,
  inboundRetentionDays: e.GATEHOUSE_INBOUND_RETENTION_DAYS,
  sessionIdleS: e.GATEHOUSE_SESSION_IDLE_S,
  sessionMaxS: e.GATEHOUSE_SESSION_MAX_S,
  loginLockAfter: e.GATEHOUSE_LOGIN_LOCK_AFTER,
  loginLockS: e.GATEHOUSE_LOGIN_LOCK_S,
  loginIpLimit: e.GATEHOUSE_LOGIN_IP_LIMIT,
  loginAccountLimit: e.GATEHOUSE_LOGIN_ACCOUNT_LIMIT,
  authFailureLimit: e.GATEHOUSE_AUTH_FAILURE_LIMIT,
}));

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {}

/** Parses the environment once; each bad variable is named with what was wrong. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(envSchema.shape)
      .filter((k) => env[k] !== undefined && env[k] !== '')
      .map((k) => [k, env[k]]),
  );
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `  ${i.path.join('.')}: ${i.message} (${envSchema.shape[i.path[0] as keyof typeof envSchema.shape].description})`,
    );
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
