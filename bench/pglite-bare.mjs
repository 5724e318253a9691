// For bench:memory: a process that does nothing but `PGlite.create()` (in memory, PGlite's
// defaults) and one `select 1`, then idles until stopped, so its RSS can be set beside Gatehouse's
// embedded mode. Prints `ready` once the query has answered.
import { PGlite } from '@electric-sql/pglite';

const db = await PGlite.create();
await db.query('select 1');
process.stdout.write('ready\n');
const timer = setInterval(() => {}, 60_000);
const stop = () => {
  clearInterval(timer);
  db.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
