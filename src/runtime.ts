import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { buildApp } from './app.js';
import { connectDatabase, type Database } from './db/connect.js';
import { migrate } from './db/migrate.js';
import { jobHandlers, schedules } from './jobs/handlers.js';
import { createWorker, type Worker } from './jobs/worker.js';
import { createDeliveryWorker, type DeliveryWorker } from './modules/webhooks/deliver.js';
import { createInboundWorker, type InboundWorker } from './modules/inbound/process.js';
import { createServices, type Services } from './services.js';
import { registerErrorHandling } from './http/errors.js';
import { ErrorBody } from './http/schemas.js';
import { metricsRoute, opsRoutes } from './modules/system/routes.js';
import { startTracing } from './lib/tracing.js';

export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  const database = await connectDatabase(
    config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: config.dataDir },
    log,
  );
  const applied = await migrate(database, (m) => log.info({ migration: m.name }, 'migration applied'), {
    onLockWait: (m, attempt, retryInMs) =>
      log.warn({ migration: m.name, attempt, retry_in_ms: Math.round(retryInMs) }, 'migration gave way to requests holding its tables; retrying'),
  });
  if (applied.length === 0) log.debug('database schema up to date');
  return database;
}

/**
 * Writes batched key usage once per interval, one transaction for every key used; a failed write
 * keeps the counts for the next. Written here rather than handed to a job: a hand-off is a write
 * too, and the job's claim and completion tripled the work (on the embedded database each write
 * stalls the requests being served).
 */
function startUsageFlusher(services: Services) {
  const flush = async () => {
    const batch = services.usage.drain();
    if (batch.length === 0) return;
    try {
      await services.apiKeys.applyUsageBatch(batch);
    } catch (err) {
      services.usage.restore(batch);
      services.log.warn({ err: (err as Error).message }, 'could not flush key usage; will retry');
    }
  };
  const timer = setInterval(flush, services.config.usageFlushMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await flush();
  };
}

export interface Running {
  app?: FastifyInstance;
  services: Services;
  worker?: Worker;
  deliveries?: DeliveryWorker;
  /** The /metrics listener on GATEHOUSE_METRICS_ADDR, when set. */
  metricsServer?: FastifyInstance;
  stop(): Promise<void>;
}

/** A listener of its own beside the API (a worker's probes, or /metrics apart). */
async function listenApart(services: Services, name: string, at: { port: number; host: string }, routes: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  // Probes and scrapes every few seconds are not worth a log line each: warnings and errors only.
  const server = Fastify({ loggerInstance: services.log.child({ listener: name }, { level: 'warn' }) as FastifyBaseLogger });
  server.addSchema(ErrorBody);
  registerErrorHandling(server);
  routes(server);
  await server.listen(at);
  return server;
}

/** The API (and by default the worker) in this process; `stop` drains requests and jobs, then closes. */
export async function startProcess(
  config: Config,
  log: Logger,
  opts: { api: boolean; worker: boolean; announceKey?: (key: string) => void },
): Promise<Running & { bootstrapKey: string | null }> {
  const stopTracing = config.tracing === 'otlp' ? startTracing() : undefined;
  const database = await openDatabase(config, log);
  const services = await createServices(config, database, log);
  // Metrics apart, so operators can keep them off the public port (the API then has no /metrics).
  const metricsServer = config.metricsAddr && (await listenApart(services, 'metrics', config.metricsAddr, (app) => metricsRoute(app, services.metrics)));
  let bootstrapKey: string | null = null;
  let app: FastifyInstance | undefined;
  let stopFlusher: (() => Promise<void>) | undefined;
  if (opts.api) {
    bootstrapKey = await services.apiKeys.bootstrapPlatformKey();
    app = await buildApp(services);
    stopFlusher = startUsageFlusher(services);
    await app.listen({ port: config.port, host: config.host });
    // Shown as soon as the port is open, in the same turn (before any request can be answered) and
    // before the workers start: the key printed means the API is listening, and an answer from
    // /healthz means the key is already printed.
    if (bootstrapKey) opts.announceKey?.(bootstrapKey);
  }
  let worker: Worker | undefined;
  let deliveries: DeliveryWorker | undefined;
  let inbound: InboundWorker | undefined;
  if (opts.worker) {
    worker = createWorker({
      database,
      log,
      metrics: services.metrics,
      queueMetrics: services.queueMetrics,
      handlers: jobHandlers(services),
      schedules: schedules(config),
      concurrency: config.workerConcurrency,
    });
    await worker.start();
    deliveries = createDeliveryWorker({
      database,
      ring: services.ring,
      log,
      metrics: services.webhookMetrics,
      queueMetrics: services.queueMetrics,
      concurrency: config.deliveryConcurrency,
      workspaceMaxInFlight: config.workspaceDeliveryConcurrency,
      retryScheduleS: config.webhookRetryScheduleS,
      disableAfterS: config.webhookDisableAfterS,
      allowPrivateTargets: config.allowPrivateTargets,
      clock: services.clock,
    });
    await deliveries.start();
    services.deliveryHandOffs.offer = deliveries.offer;
    inbound = createInboundWorker({ database, log, queueMetrics: services.queueMetrics });
    await inbound.start();
    // A worker-only process has no API; it still answers probes and Prometheus when asked to.
    if (!opts.api && config.workerPort !== undefined) {
      app = await listenApart(services, 'ops', { port: config.workerPort, host: config.host }, (ops) => opsRoutes(ops, { system: services.system, metrics: services.metrics }, { metrics: !config.metricsAddr }));
    }
  }
  return {
    app,
    services,
    worker,
    deliveries,
    metricsServer: metricsServer || undefined,
    bootstrapKey,
    async stop() {
      await app?.close();
      await stopFlusher?.();
      services.deliveryHandOffs.offer = undefined;
      await Promise.all([worker?.stop(), deliveries?.stop(), inbound?.stop()]);
      // Scraped until the drain is over.
      await metricsServer?.close();
      await services.close();
      await database.close();
      // Last: the spans of the work just drained are flushed to the collector.
      await stopTracing?.();
    },
  };
}
