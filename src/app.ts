import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createServer } from 'node:http';
import compress from '@fastify/compress';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { registerAuth } from './http/auth.js';
import { proxyTrust } from './http/client-ip.js';
import { registerErrorHandling, renderFrameworkError } from './http/errors.js';
import { ErrorBody } from './http/schemas.js';
import { API_HEADERS, requestIdOf } from './http/request-id.js';
import { createAjv, registerJsonBodyParser } from './http/validation.js';
import { jobRoutes } from './jobs/routes.js';
import { apiKeyRoutes } from './modules/apikeys/routes.js';
import { createVerifyFastPath } from './modules/apikeys/fast-path.js';
import { auditRoutes } from './modules/audit/routes.js';
import { authRoutes } from './modules/auth/routes.js';
import { inboundRoutes } from './modules/inbound/routes.js';
import { mailRoutes } from './modules/mail/routes.js';
import { reportingRoutes } from './modules/reporting/routes.js';
import { providerRoutes } from './modules/providers/routes.js';
import { upstreamRoutes } from './modules/upstream/routes.js';
import { vaultRoutes } from './modules/vault/routes.js';
import { deliveryRoutes } from './modules/webhooks/routes-deliveries.js';
import { catalogWebhooks } from './modules/webhooks/catalog.js';
import { webhookRoutes } from './modules/webhooks/routes.js';
import { ssoRoutes } from './modules/sso/routes.js';
import { systemRoutes } from './modules/system/routes.js';
import { tenancyRoutes } from './modules/tenancy/routes.js';
import { organizationRoutes } from './modules/tenancy/routes-organizations.js';
import { invitationRoutes } from './modules/invitations/routes.js';
import type { Services } from './services.js';

// A browser asking for a page (not one of the API's own paths, which keep their JSON 404s).
const API_PATH = /^\/(v1|hooks|docs|openapi\.json|metrics|healthz|readyz)(\/|\?|$)/;
const wantsPage = (request: { method: string; url: string; headers: { accept?: string } }) =>
  (request.headers.accept ?? '').includes('text/html') && !API_PATH.test(request.url);

// The portal's build (vite, into dist/web) beside the compiled server.
const PORTAL_DIR = fileURLToPath(new URL('./web/', import.meta.url));

export async function buildApp(services: Services): Promise<FastifyInstance> {
  const { config, log, metrics } = services;
  let closing = false;
  // One trust rule for both doors, so the fast path and request.ip name the same client.
  const trust = proxyTrust(config.trustedProxies);
  const verifyFast = createVerifyFastPath({ verifier: services.verifier, log, metrics, trust, closing: () => closing });
  const app = Fastify({
    // The key-verification fast path sees each request first; everything else (and whatever it
    // declines) is Fastify's. Timeouts as Fastify sets them on a server it creates itself.
    serverFactory: (handler, opts) => {
      const server = createServer((req, res) => {
        if (!verifyFast(req, res)) handler(req, res);
      });
      const o = opts as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number };
      server.keepAliveTimeout = o.keepAliveTimeout ?? 72_000;
      server.requestTimeout = o.requestTimeout ?? 0;
      server.setTimeout(o.connectionTimeout ?? 0);
      return server;
    },
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: config.bodyLimit,
    trustProxy: trust ?? false,
    requestIdHeader: false,
    genReqId: requestIdOf,
    return503OnClosing: true,
    frameworkErrors: renderFrameworkError,
    ajv: { plugins: [] },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const ajv = { body: createAjv(false), other: createAjv('array') };
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajv.body : ajv.other).compile(schema));
  app.addSchema(ErrorBody);
  registerJsonBodyParser(app as unknown as FastifyInstance);

  const portal = existsSync(PORTAL_DIR);
  registerErrorHandling(app);
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  // Callback-style: every request runs this hook, and an async hook costs a promise and a microtask turn.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    reply.headers(API_HEADERS);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  await app.register(cookie);
  // Answers of 1 KB and more go compressed to clients that ask (lists, exports, the portal's files);
  // request bodies are read as sent, as before (a signed inbound body must stay the bytes it was signed as).
  await app.register(compress, { globalDecompression: false });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse API',
        version: '0.1.0',
        description: 'API keys, provider credentials, upstream calls, webhooks and audit for a multi-tenant SaaS.',
      },
      // What endpoints are sent, per event type (OpenAPI 3.1 webhooks): the SDK's event types come from here.
      webhooks: catalogWebhooks(),
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'gate_live_… or gate_test_… key' },
          session: { type: 'apiKey', in: 'cookie', name: 'gatehouse_session', description: 'a signed-in person (POST /v1/auth/login); send x-csrf-token on changes' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (json.$id as string) ?? `def-${i}` },
  });
  // Pages for browsers (the portal, the API docs) get the full set of security headers: no inline
  // script, never framed. JSON answers get nosniff only: the rest means nothing to an API client,
  // and helmet's hook on every call cost the webhook receiving path a tenth of its rate.
  await app.register(async (pages) => {
    await pages.register(helmet, {
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"],
          // Served over plain HTTP (a laptop, a private network), https:// upgrades would break every asset.
          upgradeInsecureRequests: config.publicUrl.startsWith('https:') ? [] : null,
        },
      },
      hsts: config.publicUrl.startsWith('https:'),
    });
    await pages.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
    // The portal's files at / (built by vite into dist/web; absent when the tests run from src/),
    // and index.html for any other page a browser asks for: the portal routes in the browser.
    if (portal) {
      await pages.register(fastifyStatic, { root: PORTAL_DIR, prefix: '/', wildcard: false, index: ['index.html'] });
      pages.get('/*', { schema: { hide: true } }, (request, reply) =>
        wantsPage(request) ? reply.type('text/html').sendFile('index.html') : reply.callNotFound());
    }
  });

  systemRoutes(app as unknown as FastifyInstance, { system: services.system, metrics }, { metrics: !config.metricsAddr });
  // Providers call /hooks without an API key: the unguessable source id and the signature authenticate them.
  await app.register(services.receiver.routes());

  await app.register(
    async (v1) => {
      registerAuth(v1, services);
      await v1.register(authRoutes({ auth: services.auth, secureCookies: config.publicUrl.startsWith('https:'), sessionMaxS: config.sessionMaxS }));
      await v1.register(invitationRoutes({ invitations: services.invitations, secureCookies: config.publicUrl.startsWith('https:'), sessionMaxS: config.sessionMaxS }));
      await v1.register(tenancyRoutes(services.tenancy));
      await v1.register(organizationRoutes(services.tenancy));
      await v1.register(ssoRoutes({ sso: services.sso, secureCookies: config.publicUrl.startsWith('https:'), sessionMaxS: config.sessionMaxS }));
      await v1.register(apiKeyRoutes({ apiKeys: services.apiKeys, tenancy: services.tenancy, verifier: services.verifier }));
      await v1.register(auditRoutes({ audit: services.audit, tenancy: services.tenancy }));
      await v1.register(providerRoutes({ instances: services.instances, vault: services.vault }));
      await v1.register(vaultRoutes({ vault: services.vault, tenancy: services.tenancy, upstream: services.upstream }));
      await v1.register(upstreamRoutes({ upstream: services.upstream, tenancy: services.tenancy, emailbison: services.emailbison }));
      await v1.register(reportingRoutes({ reporting: services.reporting, tenancy: services.tenancy, upstream: services.upstream }));
      await v1.register(jobRoutes({ jobs: services.jobs }));
      await v1.register(webhookRoutes({ endpoints: services.endpoints, events: services.events }));
      await v1.register(deliveryRoutes({ recovery: services.recovery, analytics: services.webhookAnalytics }));
      await v1.register(inboundRoutes({ sources: services.sources, inboundEvents: services.inboundEvents }));
      await v1.register(mailRoutes({ mail: services.mail }));
    },
    { prefix: '/v1' },
  );
  return app as unknown as FastifyInstance;
}
