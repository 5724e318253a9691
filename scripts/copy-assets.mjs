// tsc copies no SQL: the migrations ship beside the compiled code so dist/ runs on its own.
import { cpSync } from 'node:fs';
cpSync('src/db/migrations', 'dist/db/migrations', { recursive: true });
