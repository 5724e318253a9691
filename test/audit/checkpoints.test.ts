import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify as verifySignature } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { JOB, jobHandlers, schedules } from '../../src/jobs/handlers.js';
import { GENESIS_HASH, entryHash, fieldsOf } from '../../src/modules/audit/chain.js';
import { checkpointMessage, keyIdOf } from '../../src/modules/audit/signing-key.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// Each test tampers with a database of its own, and a fresh app (migrated from empty) takes a while.
vi.setConfig({ testTimeout: 120_000 });

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-checkpoints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const apps: TestApp[] = [];
afterEach(async () => {
  for (const t of apps.splice(0)) await t.close();
});

/** A fresh app with a few entries on its chain. */
async function freshApp(env: Record<string, string> = {}) {
  const t = await createTestApp(env);
  apps.push(t);
  for (let i = 0; i < 3; i++) await t.call(t.adminKey, 'POST', '/v1/organizations', { name: `org-${i}-${randomBytes(3).toString('hex')}` });
  return t;
}

const db = (t: TestApp) => t.services.database.db;

async function checkpoint(t: TestApp) {
  const res = await t.call(t.adminKey, 'POST', '/v1/audit/checkpoints');
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; seq: number; hash: string; at: string; key_id: string; public_key: string; signature: string };
}

async function verify(t: TestApp) {
  const res = await t.call(t.adminKey, 'GET', '/v1/audit/verify');
  expect(res.status, res.raw).toBe(200);
  return res.body as { ok: boolean; entries: number; first_bad?: { seq: string; id?: string; reason: string; detail: string }; checkpoints: { verified: number; last_seq: number | null; from_file?: number } };
}

async function headSeq(t: TestApp): Promise<number> {
  const { rows } = await sql<{ n: string }>`select max(seq) as n from audit_log`.execute(db(t));
  return Number(rows[0].n);
}

/** What a database superuser can do: switch the append-only triggers off, change rows, switch them on. */
async function asSuperuser(t: TestApp, ...statements: ReturnType<typeof sql>[]) {
  await db(t).transaction().execute(async (trx) => {
    await sql`ALTER TABLE audit_log DISABLE TRIGGER USER`.execute(trx);
    await sql`ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`.execute(trx);
    for (const s of statements) await s.execute(trx);
    await sql`ALTER TABLE audit_log ENABLE TRIGGER USER`.execute(trx);
    await sql`ALTER TABLE audit_checkpoints ENABLE TRIGGER USER`.execute(trx);
  });
}

/** Recomputes every link and hash from `fromSeq` on, as someone covering an edit would. */
async function recomputeFrom(t: TestApp, fromSeq: number) {
  const { rows } = await sql<any>`select * from audit_log where seq >= ${fromSeq} order by seq`.execute(db(t));
  const { rows: before } = await sql<{ hash: string }>`select hash from audit_log where seq < ${fromSeq} order by seq desc limit 1`.execute(db(t));
  let prev = before[0]?.hash ?? GENESIS_HASH;
  const updates = [];
  for (const row of rows) {
    const hash = entryHash(prev, fieldsOf(row));
    updates.push(sql`update audit_log set prev_hash = ${prev}, hash = ${hash} where seq = ${row.seq}`);
    prev = hash;
  }
  await asSuperuser(t, ...updates);
}

/** One app for the tests that change nothing behind the triggers; they run in order on it. */
let shared: TestApp;
beforeAll(async () => {
  shared = await createTestApp();
  for (let i = 0; i < 3; i++) await shared.call(shared.adminKey, 'POST', '/v1/organizations', { name: `org-${i}-${randomBytes(3).toString('hex')}` });
});
afterAll(() => shared?.close());

describe('checkpoints on demand', () => {
  test('POST signs the newest entry; the signature verifies with the public key it names; GET lists them newest first', async () => {
    const t = shared;
    const head = await headSeq(t);
    const cp = await checkpoint(t);
    expect(cp.seq).toBe(head);
    const { rows } = await sql<{ hash: string }>`select hash from audit_log where seq = ${head}`.execute(db(t));
    expect(cp.hash).toBe(rows[0].hash);
    expect(cp.key_id).toBe(keyIdOf(cp.public_key));
    const publicKey = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(cp.public_key, 'base64')]), format: 'der', type: 'spki' });
    expect(verifySignature(null, checkpointMessage({ seq: String(cp.seq), hash: cp.hash, at: cp.at }), publicKey, Buffer.from(cp.signature, 'base64'))).toBe(true);
    // The same signature over another hash does not verify: it is bound to what it attests.
    expect(verifySignature(null, checkpointMessage({ seq: String(cp.seq), hash: GENESIS_HASH, at: cp.at }), publicKey, Buffer.from(cp.signature, 'base64'))).toBe(false);

    await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'one-more' });
    const second = await checkpoint(t);
    const third = await checkpoint(t);
    expect(second.seq).toBe(head + 1);
    const page1 = await t.call(t.adminKey, 'GET', '/v1/audit/checkpoints?limit=2');
    expect(page1.status).toBe(200);
    expect(page1.body.data.map((c: any) => c.id)).toEqual([third.id, second.id]);
    const page2 = await t.call(t.adminKey, 'GET', `/v1/audit/checkpoints?limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body).toEqual({ data: [cp], next_cursor: null });
    expect(await verify(t)).toEqual({ ok: true, entries: head + 1, checkpoints: { verified: 3, last_seq: head + 1 } });
  });

  test('only the platform admin makes or lists checkpoints: 403 for a workspace key holding every scope', async () => {
    const t = shared;
    const s = await seedWorkspace(t, ['*']);
    const countCheckpoints = async () => Number((await sql<{ n: string }>`select count(*) as n from audit_checkpoints`.execute(db(t))).rows[0].n);
    const before = await countCheckpoints();
    for (const method of ['POST', 'GET'] as const) {
      const res = await t.call(s.key, method, '/v1/audit/checkpoints');
      expect(res.status, res.raw).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    expect((await t.call(null, 'POST', '/v1/audit/checkpoints')).status).toBe(401);
    expect(await countCheckpoints()).toBe(before);
  });

  test('checkpoint rows are append-only like the log', async () => {
    const t = shared;
    await checkpoint(t);
    await expect(sql`update audit_checkpoints set hash = ${GENESIS_HASH}`.execute(db(t))).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_checkpoints`.execute(db(t))).rejects.toThrow(/append-only/);
    await expect(sql`truncate audit_checkpoints`.execute(db(t))).rejects.toThrow(/append-only/);
  });
});

describe('the periodic checkpoint', () => {
  test('is scheduled at least once a minute, and signs only when the chain advanced', async () => {
    const t = shared;
    const every = schedules(t.config).find((s) => s.kind === JOB.auditCheckpoint)?.everyMs;
    expect(every).toBeLessThanOrEqual(60_000);
    const run = jobHandlers(t.services)[JOB.auditCheckpoint];
    await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'advance-first' });
    expect(await run({}, undefined as never)).toEqual({ seq: await headSeq(t) });
    expect(await run({}, undefined as never)).toBeNull();
    await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'advance' });
    expect(await run({}, undefined as never)).toEqual({ seq: await headSeq(t) });
  });
});

describe('entries are numbered without gaps', () => {
  test('an append rolled back leaves no gap, so a gap always means a deletion', async () => {
    const t = shared;
    const before = await headSeq(t);
    await expect(
      db(t).transaction().execute(async (trx) => {
        await t.services.audit.append(trx, { type: 'system', id: 'test', ip: null, userAgent: null, requestId: null } as never, { workspaceId: null, action: 'test.rolled_back', category: 'system' });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'after-rollback' });
    expect(await headSeq(t)).toBe(before + 1);
    expect(await verify(t)).toMatchObject({ ok: true, entries: before + 1 });
    expect(await headSeq(t)).toBe(Number((await sql<{ n: string }>`select count(*) as n from audit_log`.execute(db(t))).rows[0].n));
  });
});

describe('tampering a superuser can do is named', () => {
  test('an edited row', async () => {
    const t = await freshApp();
    await checkpoint(t);
    const { rows } = await sql<{ seq: string; id: string }>`select seq, id from audit_log order by seq limit 1 offset 1`.execute(db(t));
    await asSuperuser(t, sql`update audit_log set action = 'nothing.happened' where seq = ${rows[0].seq}`);
    expect((await verify(t)).first_bad).toMatchObject({ seq: String(rows[0].seq), id: rows[0].id, reason: 'hash_mismatch' });
  });

  test('a deleted middle row, even with every later hash recomputed', async () => {
    const t = await freshApp();
    const { rows } = await sql<{ seq: string; id: string }>`select seq, id from audit_log order by seq limit 2 offset 1`.execute(db(t));
    const [removed, next] = rows;
    await asSuperuser(t, sql`delete from audit_log where seq = ${removed.seq}`);
    await recomputeFrom(t, Number(next.seq));
    expect((await verify(t)).first_bad).toEqual({ seq: String(next.seq), id: next.id, reason: 'gap', detail: `seq ${removed.seq} is missing before this entry: deleted` });
  });

  test('deleted tail rows behind a checkpoint', async () => {
    const t = await freshApp();
    const cp = await checkpoint(t);
    await asSuperuser(t, sql`delete from audit_log where seq > ${cp.seq - 2}`);
    const result = await verify(t);
    expect(result).toMatchObject({ ok: false, entries: cp.seq - 2, first_bad: { seq: String(cp.seq), reason: 'truncated' } });
    expect(result.first_bad!.detail).toContain(`the chain ends at seq ${cp.seq - 2}, before the checkpoint at seq ${cp.seq}`);
  });

  test('a rewritten row with the whole chain recomputed after it: walks clean, but no longer matches its checkpoint', async () => {
    const t = await freshApp();
    const cp = await checkpoint(t);
    await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'after-the-checkpoint' });
    await asSuperuser(t, sql`update audit_log set action = 'nothing.happened' where seq = 2`);
    await recomputeFrom(t, 2);
    const result = await verify(t);
    expect(result).toMatchObject({ ok: false, first_bad: { seq: String(cp.seq), reason: 'checkpoint_mismatch' }, checkpoints: { verified: 0 } });
    expect(result.first_bad!.detail).toContain(`the checkpoint at seq ${cp.seq} says hash ${cp.hash.slice(0, 16)}`);
  });

  test('a forged checkpoint: signed by another key, or its signature not its own', async () => {
    const t = await freshApp();
    const real = await checkpoint(t);
    const intruder = generateKeyPairSync('ed25519');
    const intruderPublic = intruder.publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64');
    const at = new Date().toISOString();
    const seq = String(real.seq);
    const forgedSig = sign(null, checkpointMessage({ seq, hash: real.hash, at }), intruder.privateKey).toString('base64');
    // Claims the trusted key's id, but the signature is the intruder's.
    await db(t).insertInto('audit_checkpoints').values({ seq, hash: real.hash, at, key_id: real.key_id, public_key: real.public_key, signature: forgedSig }).execute();
    let result = await verify(t);
    expect(result.first_bad).toMatchObject({ seq, reason: 'bad_signature' });
    expect(result.first_bad!.detail).toContain(`does not verify with key ${real.key_id}`);

    // Names its own key honestly: a key no configuration trusts.
    const t2 = await freshApp();
    const cp2 = await checkpoint(t2);
    const sig2 = sign(null, checkpointMessage({ seq: String(cp2.seq), hash: cp2.hash, at }), intruder.privateKey).toString('base64');
    await db(t2).insertInto('audit_checkpoints').values({ seq: String(cp2.seq), hash: cp2.hash, at, key_id: keyIdOf(intruderPublic), public_key: intruderPublic, signature: sig2 }).execute();
    result = await verify(t2);
    expect(result.first_bad).toMatchObject({ reason: 'bad_signature' });
    expect(result.first_bad!.detail).toContain('not a trusted key');
  });
});

describe('sinks outside the database', () => {
  test('the file sink receives each checkpoint, and catches a tail deleted together with the checkpoint rows', async () => {
    const file = join(dir, `sink-${randomBytes(4).toString('hex')}.jsonl`);
    const t = await freshApp({ GATEHOUSE_AUDIT_CHECKPOINT_FILE: file });
    const first = await checkpoint(t);
    await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'more' });
    const second = await checkpoint(t);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([first, second]);

    await asSuperuser(t, sql`delete from audit_log where seq > ${first.seq - 1}`, sql`delete from audit_checkpoints`);
    const result = await verify(t);
    expect(result).toMatchObject({ ok: false, first_bad: { seq: String(second.seq), reason: 'truncated' }, checkpoints: { from_file: 2, last_seq: second.seq } });
  });

  test('verify takes a file of checkpoints it was not configured with (gatehouse audit verify --checkpoints FILE)', async () => {
    const file = join(dir, `copy-${randomBytes(4).toString('hex')}.jsonl`);
    const t = await freshApp({ GATEHOUSE_AUDIT_CHECKPOINT_FILE: file });
    await checkpoint(t);
    const t2 = await freshApp({ GATEHOUSE_AUDIT_SIGNING_KEY: t.config.auditSigningKey! });
    // The same key, another database: only the file knows the other's checkpoint.
    expect((await t2.services.audit.verify()).ok).toBe(true);
    const result = await t2.services.audit.verify({ checkpointFile: file });
    expect(result.ok).toBe(false);
    // Both chains have the same number of entries, each its own: the attested hash is not there.
    expect(result.first_bad?.reason).toBe('checkpoint_mismatch');
    expect(result.checkpoints.from_file).toBe(1);
  });

  test('the webhook sink receives each checkpoint as a POST signed with the checkpoint key (Standard Webhooks v1a)', async () => {
    const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const t = await freshApp({ GATEHOUSE_AUDIT_CHECKPOINT_URL: `http://127.0.0.1:${port}/anchor` });
      const cp = await checkpoint(t);
      expect(received).toHaveLength(1);
      const [{ headers, body }] = received;
      expect(JSON.parse(body)).toEqual(cp);
      const [version, signature] = String(headers['webhook-signature']).split(',');
      expect(version).toBe('v1a');
      const publicKey = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(cp.public_key, 'base64')]), format: 'der', type: 'spki' });
      const signed = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`;
      expect(verifySignature(null, Buffer.from(signed), publicKey, Buffer.from(signature, 'base64'))).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
