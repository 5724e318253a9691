import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearer, errors, IdParam, NullableTimestamp, PageOf, PageQuery, Timestamp } from '../../http/schemas.js';
import { pageRequest } from '../../lib/paging.js';
import type { TenancyService } from '../tenancy/service.js';
import type { ApiKeyService } from './service.js';
import type { KeyVerifier } from './verify.js';
import { VerifyBody, VerifyResponse, verificationIp, verificationText } from './verify-http.js';

const Scope = Type.String({ minLength: 1, maxLength: 64, pattern: '^(\\*|[a-z_]+:(\\*|[a-z_]+))$' });
const RateLimit = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 1_000_000 }), window_s: Type.Integer({ minimum: 1, maximum: 86_400 }) },
  { additionalProperties: false },
);

const ApiKey = Type.Object({
  id: Type.String(),
  workspace_id: Type.Union([Type.String(), Type.Null()]),
  name: Type.String(),
  start: Type.String({ description: 'the first characters of the key, to recognise it' }),
  environment: Type.Union([Type.Literal('live'), Type.Literal('test')]),
  scopes: Type.Array(Type.String()),
  status: Type.Union([Type.Literal('active'), Type.Literal('rotating'), Type.Literal('expired'), Type.Literal('revoked')]),
  platform_admin: Type.Boolean(),
  expires_at: NullableTimestamp,
  remaining: Type.Union([Type.Integer(), Type.Null()]),
  rate_limit: Type.Union([RateLimit, Type.Null()]),
  ip_allowlist: Type.Union([Type.Array(Type.String()), Type.Null()]),
  created_at: Timestamp,
  created_by: Type.Union([Type.String(), Type.Null()]),
  revoke_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
  replaced_by: Type.Union([Type.String(), Type.Null()]),
  parent_key_id: Type.Union([Type.String(), Type.Null()], { description: 'the key that minted this one: revoking it revokes this one too' }),
  shares_uses_of: Type.Union([Type.String(), Type.Null()], { description: "the key whose remaining uses this one spends (its minter's or predecessor's); null: its own `remaining`" }),
  last_used_at: NullableTimestamp,
  last_used_ip: Type.Union([Type.String(), Type.Null()]),
});
const NewKey = Type.Intersect([ApiKey, Type.Object({ key: Type.String({ description: 'the key itself: shown this once, never again' }) })]);
const RotatedKey = Type.Intersect([
  NewKey,
  Type.Object({ previous_key: Type.Object({ id: Type.String(), revoke_at: Timestamp }) }),
]);

const tags = ['api-keys'];

export const apiKeyRoutes =
  ({ apiKeys, tenancy, verifier }: { apiKeys: ApiKeyService; tenancy: TenancyService; verifier: KeyVerifier }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/workspaces/:id/api-keys', {
      config: { scope: 'keys:write' },
      schema: {
        tags, security: bearer, summary: 'Issue a key; the response holds the key once', params: IdParam,
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 200 }),
          scopes: Type.Array(Scope, { minItems: 1, maxItems: 50 }),
          environment: Type.Optional(Type.Union([Type.Literal('live'), Type.Literal('test')])),
          expires_at: Type.Optional(Timestamp),
          rate_limit: Type.Optional(RateLimit),
          remaining: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_000_000_000 })),
          ip_allowlist: Type.Optional(Type.Array(Type.String({ minLength: 2, maxLength: 64 }), { maxItems: 100 })),
        }, { additionalProperties: false }),
        response: { 201: NewKey, ...errors() },
      },
    }, async (req, reply) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      reply.header('cache-control', 'no-store');
      return reply.status(201).send(await apiKeys.create(req.actor, req.params.id, req.body));
    });

    app.get('/workspaces/:id/api-keys', {
      config: { scope: 'keys:read' },
      schema: { tags, security: bearer, params: IdParam, summary: 'Keys of a workspace, newest first', querystring: Type.Object(PageQuery), response: { 200: PageOf(ApiKey), ...errors() } },
    }, async (req) => {
      await tenancy.requireWorkspace(req.actor, req.params.id);
      return apiKeys.list(req.params.id, pageRequest(req.query));
    });

    app.get('/api-keys/:id', {
      config: { scope: 'keys:read' },
      schema: { tags, security: bearer, params: IdParam, response: { 200: ApiKey, ...errors() } },
    }, async (req) => apiKeys.get(req.actor, req.params.id));

    app.post('/api-keys/:id/rotate', {
      config: { scope: 'keys:write' },
      schema: {
        tags, security: bearer, params: IdParam,
        summary: 'Issue a successor key; the old one keeps working for grace_s seconds (default 86400), then is revoked',
        body: Type.Optional(Type.Object({ grace_s: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86400 })) }, { additionalProperties: false })),
        response: { 201: RotatedKey, ...errors(409) },
      },
      // A POST with no body means "default grace"; Ajv would otherwise refuse `undefined` as "must be object".
      preValidation: async (req) => {
        req.body = req.body ?? {};
      },
    }, async (req, reply) => {
      reply.header('cache-control', 'no-store');
      return reply.status(201).send(await apiKeys.rotate(req.actor, req.params.id, req.body?.grace_s));
    });

    app.delete('/api-keys/:id', {
      config: { scope: 'keys:write' },
      schema: { tags, security: bearer, summary: 'Revoke a key at once, on every process', params: IdParam, response: { 200: ApiKey, ...errors() } },
    }, async (req) => apiKeys.revoke(req.actor, req.params.id));

    app.get('/api-keys/:id/usage', {
      config: { scope: 'keys:read' },
      schema: {
        tags, security: bearer, params: IdParam,
        summary: 'Requests per day, last use and last IP (batched: up to a few seconds behind)',
        querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, default: 30 })) }),
        response: {
          200: Type.Object({
            key_id: Type.String(),
            last_used_at: NullableTimestamp,
            last_used_ip: Type.Union([Type.String(), Type.Null()]),
            total_requests: Type.Integer(),
            days: Type.Array(Type.Object({ day: Type.String(), requests: Type.Integer() })),
          }),
          ...errors(),
        },
      },
    }, async (req) => apiKeys.usage(req.actor, req.params.id, req.query.days ?? 30));

    // Served by the fast path (fast-path.ts) for plain JSON bodies; this route documents it and answers
    // whatever the fast path declines (other content types, large bodies), with the same serializer.
    app.post('/keys/verify', {
      config: { public: true },
      // Never compressed, so both doors send the same headers; a verification answer is a few hundred bytes.
      compress: false,
      schema: {
        tags, summary: 'Check a key (the key in the body is the credential); always 200, `valid` says the outcome',
        body: VerifyBody,
        response: { 200: VerifyResponse, 400: Type.Ref('ErrorBody') },
      },
    }, async (req, reply) => {
      // A verifier (a key with keys:verify) may name the address of the caller it checks; anyone else is judged from their own.
      const address = await verificationIp(verifier, req.body.ip, req.headers.authorization, req.ip);
      const result = await verifier.verify(req.body.key, { scope: req.body.scope, ...address });
      return reply.type('application/json; charset=utf-8').send(verificationText(result));
    });
  };
