// The baseline of bench:webhooks' accepts and of bench:inbound: a bare Fastify 5 app whose routes
// each do ONE INSERT of the request into the same kind of database Gatehouse uses (PostgreSQL
// through a `pg` Pool of Gatehouse's size when DATABASE_URL is set, else an embedded PGlite in
// BENCH_DATA_DIR) and answer once it is committed. No logger, hooks, schemas, authentication,
// verification or de-duplication: what is left is HTTP, JSON parsing and one committed row.
//   POST /v1/workspaces/:id/events   202 {event_id, duplicate: false, deliveries: 0}   (as Gatehouse's accept)
//   POST /hooks/:id                  200 {id, duplicate: false}                         (as Gatehouse's inbound receive)
// Prints `listening <port>` once it accepts connections.
import Fastify from 'fastify';

const TABLE = 'bench_insert_baseline';
const ddl = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  id bigserial PRIMARY KEY, workspace_id text NOT NULL, type text NOT NULL, payload jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now())`;
const insert = `INSERT INTO ${TABLE} (workspace_id, type, payload) VALUES ($1, $2, $3) RETURNING id`;

let query;
if (process.env.DATABASE_URL) {
  const { default: pg } = await import('pg');
  // The same pool size as Gatehouse's (src/db/connect.ts).
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  await pool.query(ddl);
  query = (params) => pool.query(insert, params);
} else {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(process.env.BENCH_DATA_DIR);
  await db.exec(ddl);
  query = (params) => db.query(insert, params);
}

const app = Fastify({ logger: false });
app.post('/v1/workspaces/:id/events', async (request, reply) => {
  const r = await query([request.params.id, String(request.body?.type ?? ''), request.body?.payload ?? null]);
  return reply.status(202).send({ event_id: String(r.rows[0].id), duplicate: false, deliveries: 0 });
});
app.post('/hooks/:id', async (request) => {
  const r = await query([request.params.id, String(request.body?.type ?? ''), request.body]);
  return { id: String(r.rows[0].id), duplicate: false };
});

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${new URL(address).port}\n`);

const stop = () => app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
