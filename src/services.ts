import type { Logger } from 'pino';
import type { Config } from './config.js';
import { RESYNC, type Database } from './db/connect.js';
import { systemClock, type Clock } from './lib/clock.js';
import { createMetrics } from './lib/metrics.js';
import { JOBS_TABLE } from './jobs/queue.js';
import { createJobService } from './jobs/service.js';
import { createQueueMetrics } from './queue/metrics.js';
import { depthOf } from './queue/table.js';
import { queueDepth } from './modules/webhooks/queue.js';
import { inboundTable, INBOUND_RETRY_SCHEDULE_S } from './modules/inbound/process.js';
import { createKeyCache } from './modules/apikeys/cache.js';
import { createRateLimiter } from './modules/apikeys/ratelimit.js';
import { createApiKeyService } from './modules/apikeys/service.js';
import { KEYS_CHANNEL } from './modules/apikeys/store.js';
import { createUsageRecorder } from './modules/apikeys/usage.js';
import { createKeyVerifier } from './modules/apikeys/verify.js';
import { auditAnchor } from './modules/audit/checkpoints.js';
import { createAuditService } from './modules/audit/service.js';
import { createTenancyService } from './modules/tenancy/service.js';
import { createSystemService } from './modules/system/service.js';
import { createHealthService } from './modules/health/service.js';
import { createReportingService } from './modules/reporting/service.js';
import { createInstanceService } from './modules/providers/instances.js';
import { createEmailBisonService } from './modules/upstream/emailbison.js';
import { createUpstreamService } from './modules/upstream/service.js';
import { createEndpointService } from './modules/webhooks/endpoints.js';
import { createEventService } from './modules/webhooks/events.js';
import type { DeliveryOffer } from './modules/webhooks/queue.js';
import { createWebhookMetrics } from './modules/webhooks/metrics.js';
import { createHealthMetrics } from './modules/reporting/metrics.js';
import { createRecoveryService } from './modules/webhooks/recovery.js';
import { createAnalyticsService } from './modules/webhooks/analytics.js';
import { createAuthService } from './modules/auth/service.js';
import { createSessionStore } from './modules/auth/sessions.js';
import { createFailureSummary } from './modules/auth/failures.js';
import { createInboundEventService } from './modules/inbound/events.js';
import { createReceiver } from './modules/inbound/receive.js';
import { createSourceService } from './modules/inbound/sources.js';
import { createOidc } from './modules/sso/oidc.js';
import { createSsoService } from './modules/sso/service.js';
import { createDomainProof } from './modules/sso/domain-proof.js';
import { loadMasterKeys } from './modules/vault/master-keys.js';
import { createVaultService } from './modules/vault/service.js';
import { createMailService } from './modules/mail/service.js';
import { createInvitationService } from './modules/invitations/service.js';

/** Wires each service with the few things it uses; one instance per process (or per test). */
export async function createServices(config: Config, database: Database, log: Logger, clock: Clock = systemClock) {
  const { db } = database;
  const metrics = createMetrics();
  const cache = createKeyCache(config.keyCacheTtlMs);
  const limiter = createRateLimiter({ redisUrl: config.redisUrl, log, registry: metrics.registry });
  const usage = createUsageRecorder();
  const audit = createAuditService({ db, anchor: auditAnchor(config, log) });
  // Sessions are made further down (they read people through tenancy): the hook reaches them then.
  const tenancy = createTenancyService({
    db, audit, onPersonRemoved: async (userId, trx) => { await sessions.endAll(userId, trx); },
    // Auth is made further down; a person is made long after start.
    setPassword: (trx, userId, passwordHash) => auth.setPassword(trx, userId, passwordHash),
  });
  const apiKeys = createApiKeyService({ db, cache, audit, clock });
  const verifier = createKeyVerifier({ db, cache, limiter, usage, metrics, clock });
  // A revoke or rotation on any process reaches this one's cache through NOTIFY.
  const stopListening = await database.listen(KEYS_CHANNEL, (keyId) => (keyId === RESYNC ? cache.clear() : cache.invalidate(keyId)));
  const ring = loadMasterKeys({ masterKeys: config.masterKeys, dataDir: config.dataDir, log });
  // Late-bound: the vault is built with the instances, and answers which ones a workspace's credentials use.
  const instances = createInstanceService({ db, audit, allowPrivateTargets: config.allowPrivateTargets, instancesUsedBy: (ids) => vault.instancesUsedBy(ids) });
  const vault = createVaultService({ db, database, ring, audit, instances, cacheMs: config.credentialCacheMs });
  const stopVault = await vault.start();
  const health = createHealthService({ db });
  const upstream = createUpstreamService({ db, vault, tenancy, health, timeoutMs: config.upstreamTimeoutMs, allowPrivateTargets: config.allowPrivateTargets, breakerResetMs: config.upstreamBreakerResetS * 1000, log });
  const emailbison = createEmailBisonService({ db, vault, upstream, instances, tenancy });
  const jobs = createJobService({ db });
  const reporting = createReportingService({ db, silentAfterS: config.inboundSilentAfterS });
  const system = createSystemService({ database });
  const endpoints = createEndpointService({
    db, ring, audit, tenancy, allowPrivateTargets: config.allowPrivateTargets, secretOverlapS: config.webhookSecretOverlapS,
    maxEndpoints: config.workspaceMaxEndpoints,
  });
  // Header values stored in plain text before they were sealed (migration 010) are sealed now.
  await endpoints.sealPlaintextHeaders();
  // Filled in while a delivery worker runs in this process (see runtime).
  const deliveryHandOffs: { offer?: DeliveryOffer } = {};
  const events = createEventService({ db, dbKind: database.kind, audit, tenancy, endpoints, limiter, eventsPerS: config.workspaceEventsPerS, handOffs: deliveryHandOffs });
  const recovery = createRecoveryService({ db, audit, tenancy, endpoints });
  const webhookAnalytics = createAnalyticsService({ db, tenancy, endpoints });
  const webhookMetrics = createWebhookMetrics(metrics.registry, db);
  // Queue depths are read from the tables, so any process scraped (API or worker) reports them.
  const queueMetrics = createQueueMetrics(metrics.registry);
  queueMetrics.watch('jobs', () => depthOf(db, JOBS_TABLE));
  queueMetrics.watch('deliveries', () => queueDepth(db));
  queueMetrics.watch('inbound', () => depthOf(db, inboundTable(INBOUND_RETRY_SCHEDULE_S.length + 1)));
  createHealthMetrics(metrics.registry, db);
  const mail = createMailService({ db, ring, log, registry: metrics.registry, smtpUrl: config.smtpUrl, from: config.mailFrom });
  const sessions = createSessionStore(db, tenancy, { idleS: config.sessionIdleS, maxS: config.sessionMaxS });
  const invitations = createInvitationService({ db, audit, tenancy, mail, sessions, limiter, publicUrl: config.publicUrl, ttlS: config.invitationTtlS, clock,
    // SSO is made further down; it is reached when an invitation is read, long after start.
    ssoFor: (organizationId, email) => sso.signInFor(organizationId, email),
    proveAccount: (actor, email, password) => auth.proveAccount(actor, email, password) });
  const authFailures = createFailureSummary({ audit, log, registry: metrics.registry });
  const auth = createAuthService({
    db, ring, audit, sessions, limiter, failures: authFailures, registry: metrics.registry, mail, publicUrl: config.publicUrl, log,
    policy: { lockAfter: config.loginLockAfter, lockS: config.loginLockS },
    limits: { perIp: config.loginIpLimit, perAccount: config.loginAccountLimit },
    // Late-bound: single sign-on is built after auth (it opens sessions) and says whose password is closed.
    passwordRefusedBy: (user) => sso.passwordRefusedBy(user),
  });
  const oidc = createOidc({ allowPrivateTargets: config.allowPrivateTargets });
  const sso = createSsoService({
    db, ring, audit, oidc, tenancy, sessions, failures: authFailures, limiter, perIpLimit: config.loginIpLimit, publicUrl: config.publicUrl,
    holdsChallenge: createDomainProof(config.dnsServers),
  });
  const sources = createSourceService({
    db, ring, audit, tenancy, publicUrl: config.publicUrl, secretOverlapS: config.webhookSecretOverlapS, silentAfterS: config.inboundSilentAfterS, onChanged: (id) => receiver.evict(id),
  });
  const inboundEvents = createInboundEventService({ db, audit, tenancy });
  const receiver = await createReceiver({
    database, ring, log, registry: metrics.registry, publicUrl: config.publicUrl, bodyLimit: config.inboundBodyLimit, toleranceS: config.inboundToleranceS,
  });
  return {
    config,
    database,
    log,
    clock,
    metrics,
    cache,
    limiter,
    usage,
    audit,
    tenancy,
    apiKeys,
    verifier,
    ring,
    instances,
    vault,
    health,
    upstream,
    emailbison,
    jobs,
    reporting,
    system,
    endpoints,
    events,
    recovery,
    webhookAnalytics,
    webhookMetrics,
    queueMetrics,
    deliveryHandOffs,
    mail,
    invitations,
    sessions,
    auth,
    authFailures,
    sso,
    sources,
    inboundEvents,
    receiver,
    async close() {
      await stopListening();
      await receiver.close();
      await stopVault();
      await upstream.close();
      await oidc.close();
      await authFailures.close();
      mail.close();
      await limiter.close();
      await audit.close();
    },
  };
}
export type Services = Awaited<ReturnType<typeof createServices>>;
