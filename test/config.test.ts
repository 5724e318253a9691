import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

/** The message loadConfig throws for `env`; fails the test when it does not throw. */
function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  test('an empty environment gives the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      dataDir: resolve('./.gatehouse'),
      publicUrl: 'http://localhost:8080',
      allowPrivateTargets: false,
      logLevel: 'info',
      bodyLimit: 1024 * 1024,
      trustProxy: false,
    });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
  });

  test('it reads only its own variables and never the real process environment when given one', () => {
    const c = loadConfig({ GATEHOUSE_PORT: '9191', UNRELATED: 'x' });
    expect(c.port).toBe(9191);
    expect(c.publicUrl).toBe('http://localhost:9191');
  });

  test('empty strings count as unset', () => {
    expect(loadConfig({ GATEHOUSE_PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 8080, databaseUrl: undefined });
  });

  test('good values are parsed into typed fields', () => {
    const c = loadConfig({
      GATEHOUSE_PORT: '3000',
      DATABASE_URL: 'postgresql://u:p@db:5432/gh',
      REDIS_URL: 'rediss://cache:6380',
      GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'yes',
      GATEHOUSE_PUBLIC_URL: 'https://gate.example.com/',
      GATEHOUSE_BODY_LIMIT: '2048',
      GATEHOUSE_DATA_DIR: '/tmp/gh-data',
    });
    expect(c).toMatchObject({
      port: 3000,
      databaseUrl: 'postgresql://u:p@db:5432/gh',
      redisUrl: 'rediss://cache:6380',
      allowPrivateTargets: true,
      publicUrl: 'https://gate.example.com', // trailing slash dropped: URLs are built by appending paths
      bodyLimit: 2048,
      dataDir: '/tmp/gh-data',
    });
    expect(loadConfig({ GATEHOUSE_ALLOW_PRIVATE_TARGETS: '0' }).allowPrivateTargets).toBe(false);
  });

  test.each([
    ['GATEHOUSE_PORT', 'abc'],
    ['GATEHOUSE_PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://x'],
    ['GATEHOUSE_ALLOW_PRIVATE_TARGETS', 'maybe'],
    ['GATEHOUSE_BODY_LIMIT', '-1'],
    ['GATEHOUSE_LOG_LEVEL', 'loud'],
  ])('%s=%s is refused with a message naming the variable', (name, value) => {
    const message = configError({ [name]: value });
    expect(message).toMatch(/^invalid configuration/);
    expect(message).toContain(name);
    // Only the bad variable is named, so the operator is not sent looking at good ones.
    const others = ['GATEHOUSE_PORT', 'DATABASE_URL', 'REDIS_URL', 'GATEHOUSE_ALLOW_PRIVATE_TARGETS', 'GATEHOUSE_BODY_LIMIT', 'GATEHOUSE_LOG_LEVEL'].filter((n) => n !== name);
    for (const other of others) expect(message).not.toContain(other);
  });

  test('several bad values are all named in one error, one line each', () => {
    const message = configError({
      GATEHOUSE_PORT: 'abc',
      DATABASE_URL: 'mysql://x',
      REDIS_URL: 'http://x',
      GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'maybe',
    });
    const lines = message.split('\n').slice(1);
    expect(lines).toHaveLength(4);
    for (const name of ['GATEHOUSE_PORT', 'DATABASE_URL', 'REDIS_URL', 'GATEHOUSE_ALLOW_PRIVATE_TARGETS']) {
      expect(lines.filter((l) => l.trimStart().startsWith(`${name}:`))).toHaveLength(1);
    }
    // Each line says what was expected, not only that something is wrong.
    expect(lines.find((l) => l.includes('DATABASE_URL'))).toMatch(/postgres/);
    expect(lines.find((l) => l.includes('REDIS_URL'))).toMatch(/redis/);
  });

  test('a bad value is never echoed back when it could be a secret-bearing URL', () => {
    const message = configError({ DATABASE_URL: 'mysql://admin:hunter2-secret@db/x' });
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('hunter2-secret');
  });
});
