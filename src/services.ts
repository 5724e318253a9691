import type { Logger } from 'pino';
import type { Config } from './config.js';
import { RESYNC, type Database } from './db/connect.js';
import { createMetrics } from './lib/metrics.js';
import { createKeyCache } from './modules/apikeys/cache.js';
import { createRateLimiter } from './modules/apikeys/ratelimit.js';
import { createApiKeyService } from './modules/apikeys/service.js';
import { KEYS_CHANNEL } from './modules/apikeys/store.js';
import { createUsageRecorder } from './modules/apikeys/usage.js';
import { createKeyVerifier } from './modules/apikeys/verify.js';
import { createAuditService } from './modules/audit/service.js';
import { createTenancyService } from './modules/tenancy/service.js';

/** Wires each service with the few things it uses; one instance per process (or per test). */
export async function createServices(config: Config, database: Database, log: Logger) {
  const { db } = database;
  const metrics = createMetrics();
  const cache = createKeyCache(config.keyCacheTtlMs);
  const limiter = createRateLimiter({ redisUrl: config.redisUrl, log });
  const usage = createUsageRecorder();
  const audit = createAuditService({ db });
  const tenancy = createTenancyService({ db, audit });
  const apiKeys = createApiKeyService({ db, cache, audit });
  const verifier = createKeyVerifier({ db, cache, limiter, usage, metrics });
  // A revoke or rotation on any process reaches this one's cache through NOTIFY.
  const stopListening = await database.listen(KEYS_CHANNEL, (keyId) => (keyId === RESYNC ? cache.clear() : cache.invalidate(keyId)));
  return {
    config,
    database,
    log,
    metrics,
    cache,
    limiter,
    usage,
    audit,
    tenancy,
    apiKeys,
    verifier,
    async close() {
      await stopListening();
      await limiter.close();
    },
  };
}
export type Services = Awaited<ReturnType<typeof createServices>>;
