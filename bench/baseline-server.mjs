// The baseline for bench/keys.mjs: a bare Fastify 5 app, the same Fastify Gatehouse uses, with no
// logger, hooks, schemas or plugins. One route answers GET and POST with a constant JSON object;
// a POST still has its JSON body parsed, so the baseline does the same HTTP and body work as
// POST /v1/keys/verify minus everything Gatehouse adds. Run as its own process; it prints
// `listening <port>` once it accepts connections.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const constant = { valid: true, code: 'valid' };
app.route({ method: ['GET', 'POST'], url: '/baseline', handler: async () => constant });

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${new URL(address).port}\n`);

const stop = () => app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
