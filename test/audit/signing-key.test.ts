import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { loadAuditKeys, SIGNING_KEY_FILE, signatureProblem, signCheckpoint } from '../../src/modules/audit/signing-key.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function capture() {
  const lines: string[] = [];
  const log = createLogger('info', new Writable({ write: (c, _e, done) => (lines.push(c.toString()), done()) }));
  return { log, lines };
}

describe('the checkpoint signing key', () => {
  test('without configuration it is created once in the data dir, mode 0600, announced by path and never printed', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-key-'));
    dirs.push(dataDir);
    const { log, lines } = capture();
    const first = loadAuditKeys({ dataDir, log });
    const path = join(dataDir, SIGNING_KEY_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(path);
    const pem = readFileSync(path, 'utf8');
    const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    expect(lines[0]).not.toContain(body);
    // A restart reads the same key and says nothing.
    const again = loadAuditKeys({ dataDir, log });
    expect(again.signer.keyId).toBe(first.signer.keyId);
    expect(lines).toHaveLength(1);
  });

  test('a seed, a PKCS#8 DER and a PEM of one key are the same key', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const forms = [der.subarray(-32).toString('base64'), der.toString('base64'), privateKey.export({ format: 'pem', type: 'pkcs8' }) as string];
    const { log } = capture();
    const ids = forms.map((signingKey) => loadAuditKeys({ signingKey, dataDir: '/nonexistent', log }).signer.keyId);
    expect(new Set(ids).size).toBe(1);
  });

  test('after a rotation, checkpoints of the retired key verify once its public key is trusted, and not before', () => {
    const { log } = capture();
    const old = loadAuditKeys({ signingKey: randomBytes(32).toString('base64'), dataDir: '/nonexistent', log });
    const cp = { seq: '7', hash: 'a'.repeat(64), at: new Date().toISOString(), key_id: old.signer.keyId };
    const signature = signCheckpoint(old, cp);
    const newSeed = randomBytes(32).toString('base64');
    const rotated = loadAuditKeys({ signingKey: newSeed, dataDir: '/nonexistent', log });
    expect(signatureProblem(rotated, { ...cp, signature })).toContain('not a trusted key');
    const trusting = loadAuditKeys({ signingKey: newSeed, trustedKeys: old.signer.publicKey, dataDir: '/nonexistent', log });
    expect(signatureProblem(trusting, { ...cp, signature })).toBeNull();
    expect(signatureProblem(trusting, { ...cp, hash: 'b'.repeat(64), signature })).toContain('does not verify');
  });

  test('a bad key in the environment is refused at start, naming the variable and not echoing the value', () => {
    const secretLooking = `not-a-key-${randomBytes(8).toString('hex')}`;
    expect(() => loadConfig({ GATEHOUSE_AUDIT_SIGNING_KEY: secretLooking })).toThrow(ConfigError);
    try {
      loadConfig({ GATEHOUSE_AUDIT_SIGNING_KEY: secretLooking });
    } catch (err) {
      expect((err as Error).message).toContain('GATEHOUSE_AUDIT_SIGNING_KEY');
      expect((err as Error).message).not.toContain(secretLooking);
    }
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(() => loadConfig({ GATEHOUSE_AUDIT_SIGNING_KEY: rsa })).toThrow(/rsa key; an Ed25519 key is needed/);
    expect(() => loadConfig({ GATEHOUSE_AUDIT_TRUSTED_KEYS: 'AAAA' })).toThrow(/GATEHOUSE_AUDIT_TRUSTED_KEYS: entry 1 is 3 bytes/);
  });
});
