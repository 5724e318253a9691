import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { ROOT } from '../helpers/cli.js';

describe('log format of the built logger', () => {
  // The compiled logger (npm run build) in a child whose stdout is a pipe, then a terminal (script(1) gives it a pty).
  const program = `import(${JSON.stringify(`${ROOT}dist/lib/logger.js`)}).then((m) => m.createLogger('info').info({ password: 'pw-value' }, 'hello there'))`;
  test('JSON when stdout is not a terminal', () => {
    const piped = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8' });
    expect(piped.status, piped.stderr).toBe(0);
    const line = JSON.parse(piped.stdout.trim());
    expect(line).toMatchObject({ msg: 'hello there', level: 30, password: '[redacted]', service: 'gatehouse' });
  });

  test('readable lines when stdout is a terminal', () => {
    const command = [process.execPath, '-e', program].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const tty = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(tty.status, tty.stderr).toBe(0);
    const text = tty.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    expect(text).toMatch(/INFO.*hello there/);
    expect(text).not.toMatch(/^\{"level"/m);
    expect(text).not.toContain('pw-value');
  });
});
