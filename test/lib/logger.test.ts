import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';

const collect = () => {
  const lines: string[] = [];
  return { lines, stream: new Writable({ write: (c, _e, done) => (lines.push(c.toString()), done()) }) };
};

describe('log format', () => {
  test('readable lines still mask secrets and keep ids', () => {
    const { lines, stream } = collect();
    createLogger('info', stream, { pretty: true }).info({ client_secret: 'cs-value', key_id: 'key_01keepme' }, 'request seen');
    const text = lines.join('');
    expect(() => JSON.parse(text)).toThrow();
    expect(text).toMatch(/INFO.*request seen/);
    expect(text).toContain('key_01keepme');
    expect(text).not.toContain('cs-value');
    expect(text).toContain('[redacted]');
  });
});
