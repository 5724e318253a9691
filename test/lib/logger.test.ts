import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { createLogger, redactUrl } from '../../src/lib/logger.js';

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

test("a logged URL keeps ids and plain parameters, and hides secrets and a sign-in's code and state", () => {
  const url = redactUrl('/v1/auth/sso/callback?code=the-code&state=the-state&key_id=key_1&status_code=500&token=t0k');
  expect(url).not.toMatch(/the-code|the-state|t0k/);
  expect(url).toContain('key_id=key_1');
  expect(url).toContain('status_code=500');
  expect(redactUrl('/v1/things?limit=5')).toBe('/v1/things?limit=5');
});
