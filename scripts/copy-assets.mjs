// tsc copies neither SQL nor plain JavaScript: the migrations and the embedded database's thread
// entry ship beside the compiled code so dist/ runs on its own.
import { cpSync } from 'node:fs';
cpSync('src/db/migrations', 'dist/db/migrations', { recursive: true });
cpSync('src/db/pglite-thread.mjs', 'dist/db/pglite-thread.mjs');
