import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { systemActor } from '../../src/http/actor.js';
import { CLI, cliTarget, runCli, withTarget } from '../helpers/cli.js';

// `gatehouse audit checkpoint` and `gatehouse audit verify [--checkpoints FILE]` as an operator runs them.
const SLOW = 180_000;

describe('audit checkpoints from the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-checkpoints-'));
  const file = join(dir, 'checkpoints.jsonl');
  let target: Awaited<ReturnType<typeof cliTarget>>;
  let withSink: Record<string, string>;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first (npm test does)');
    target = await cliTarget({ GATEHOUSE_AUDIT_SIGNING_KEY: randomBytes(32).toString('base64') });
    withSink = { ...target.env, GATEHOUSE_AUDIT_CHECKPOINT_FILE: file };
    await withTarget(target.env, async (s) => {
      for (let i = 0; i < 4; i++) await s.audit.record(systemActor(), { workspaceId: null, action: 'test.entry', category: 'system' });
    });
  }, SLOW);
  afterAll(async () => {
    await target?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('checkpoint signs the newest entry and appends it to the file sink; verify reports it', async () => {
    const made = await runCli(['audit', 'checkpoint'], withSink);
    expect(made.code, made.stderr).toBe(0);
    const m = /^checkpoint seq=(\d+) hash=([0-9a-f]{64}) /m.exec(made.stdout);
    expect(m, made.stdout).not.toBeNull();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toMatchObject([{ seq: Number(m![1]), hash: m![2] }]);

    const verified = await runCli(['audit', 'verify'], withSink);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toMatch(/^ok \d+ entries$/m);
    expect(verified.stdout).toContain(`signed checkpoints hold; the newest is at seq ${m![1]}`);
  }, SLOW);

  test('a tail deleted together with the checkpoint rows: verify --checkpoints FILE exits 1 naming the truncation', async () => {
    const { seq } = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').at(-1)!);
    await withTarget(target.env, async (s) => {
      await s.database.db.transaction().execute(async (trx) => {
        await sql`ALTER TABLE audit_log DISABLE TRIGGER USER`.execute(trx);
        await sql`ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`.execute(trx);
        await sql`delete from audit_log where seq >= ${seq}`.execute(trx);
        await sql`delete from audit_checkpoints`.execute(trx);
        await sql`ALTER TABLE audit_log ENABLE TRIGGER USER`.execute(trx);
        await sql`ALTER TABLE audit_checkpoints ENABLE TRIGGER USER`.execute(trx);
      });
    });
    // The database alone no longer shows it: that is what the sink outside it is for.
    const alone = await runCli(['audit', 'verify'], target.env);
    expect(alone.code, alone.stdout).toBe(0);
    const run = await runCli(['audit', 'verify', '--checkpoints', file], target.env);
    expect(run.code, run.stdout).toBe(1);
    expect(run.stdout).toContain(`bad entry seq=${seq}: truncated: the chain ends at seq ${seq - 1}, before the checkpoint at seq ${seq}`);
    expect(run.stdout).not.toMatch(/^ok /m);
  }, SLOW);

  test('verify --checkpoints with a file that is not there exits 2 saying so', async () => {
    const run = await runCli(['audit', 'verify', '--checkpoints', join(dir, 'nowhere.jsonl')], target.env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('nowhere.jsonl does not exist');
  }, SLOW);
});
