// The embedded database's own thread. PGlite runs Postgres as WebAssembly and writes its files with
// synchronous calls, so on the main thread every commit's WAL write and fsync would stall all
// requests (measured: 7–18 ms once a second under load). Here they stall only this thread.
//
// Plain JavaScript on purpose: a worker is started from a file path, and this same file must run
// from src/ (tests) and dist/ (the service) without a compile step in between.
//
// Protocol, one message per request: { id, op: 'query' | 'exec' | 'listen' | 'close', ... }
// → { id, result } or { id, error: { message, code, detail, constraint, … } };
// notifications arrive as { channel, payload } with no id.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

const OID_INT8 = 20;
const OID_DATE = 1082;
const asText = (value) => value;

// The fields pg's DatabaseError carries; callers test `code` and `constraint`.
const ERROR_FIELDS = ['code', 'detail', 'hint', 'constraint', 'table', 'column', 'schema', 'severity', 'position', 'where'];
function serializeError(err) {
  const out = { message: err instanceof Error ? err.message : String(err) };
  for (const f of ERROR_FIELDS) if (err && err[f] !== undefined) out[f] = err[f];
  return out;
}

const pg = await PGlite.create(workerData.location ?? undefined, { parsers: { [OID_INT8]: asText, [OID_DATE]: asText } });
const listening = new Map();

async function handle(msg) {
  switch (msg.op) {
    case 'query': {
      const r = await pg.query(msg.sql, msg.params);
      return { rows: r.rows, affectedRows: r.affectedRows ?? 0 };
    }
    case 'exec':
      await pg.exec(msg.sql);
      return null;
    case 'listen':
      if (!listening.has(msg.channel)) {
        listening.set(msg.channel, await pg.listen(msg.channel, (payload) => parentPort.postMessage({ channel: msg.channel, payload })));
      }
      return null;
    case 'close':
      if (!pg.closed) await pg.close();
      return null;
    default:
      throw new Error(`unknown operation ${msg.op}`);
  }
}

parentPort.on('message', (msg) => {
  handle(msg).then(
    (result) => {
      parentPort.postMessage({ id: msg.id, result });
      if (msg.op === 'close') parentPort.close();
    },
    (err) => parentPort.postMessage({ id: msg.id, error: serializeError(err) }),
  );
});
parentPort.postMessage({ ready: true });
