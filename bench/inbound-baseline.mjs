// The baseline for bench/inbound.mjs: a bare Fastify 5 route that takes a JSON webhook and does one
// INSERT of it into the same kind of database Gatehouse uses (PostgreSQL when DATABASE_URL is set,
// else an embedded PGlite in BENCH_DATA_DIR), answering 200 after the INSERT. No logger, hooks,
// schemas, verification or de-duplication. Prints `listening <port>` once it accepts connections.
import Fastify from 'fastify';

const TABLE = 'bench_inbound_baseline';
const ddl = `CREATE TABLE IF NOT EXISTS ${TABLE} (id bigserial PRIMARY KEY, body jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`;

let query;
if (process.env.DATABASE_URL) {
  const { default: pg } = await import('pg');
  // The same pool size as Gatehouse's (src/db/connect.ts).
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  await pool.query(ddl);
  query = (text, params) => pool.query(text, params);
} else {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = new PGlite(process.env.BENCH_DATA_DIR);
  await db.exec(ddl);
  query = (text, params) => db.query(text, params);
}

const app = Fastify({ logger: false });
app.post('/baseline/:id', async (request) => {
  const r = await query(`INSERT INTO ${TABLE} (body) VALUES ($1) RETURNING id`, [request.body]);
  return { id: String(r.rows[0].id), duplicate: false };
});

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening ${new URL(address).port}\n`);

const stop = () => app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
