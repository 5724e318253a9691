import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { readOrCreateKeyFile } from '../../lib/key-file.js';

export const SIGNING_KEY_FILE = 'audit-signing.key';

// The fixed DER prefix of an Ed25519 PKCS#8 private key (RFC 8410); the 32-byte seed follows it.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
// The fixed DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32-byte public key follows it.
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface AuditKeys {
  /** Signs new checkpoints. */
  signer: { keyId: string; publicKey: string; privateKey: KeyObject };
  /** Every public key whose checkpoints verify accepts, by key id: the signer's and retired ones. */
  trusted: Map<string, KeyObject>;
}

const rawPublicKey = (key: KeyObject): Buffer => key.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);

/** A key's id: the first 16 hex digits of the SHA-256 of its raw public key. */
export const keyIdOf = (publicKeyBase64: string): string => createHash('sha256').update(Buffer.from(publicKeyBase64, 'base64')).digest('hex').slice(0, 16);

/** A PKCS#8 PEM, or base64 of a PKCS#8 DER or of a 32-byte seed. Throws naming the problem, never echoing the key. */
export function parseSigningKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) key = createPrivateKey(trimmed);
    else {
      const der = Buffer.from(trimmed, 'base64');
      if (!/^[A-Za-z0-9+/=\s]+$/.test(trimmed) || der.length === 0) throw new Error('not base64');
      key = createPrivateKey({ key: der.length === 32 ? Buffer.concat([PKCS8_ED25519_PREFIX, der]) : der, format: 'der', type: 'pkcs8' });
    }
  } catch {
    throw new Error('is not an Ed25519 private key (PKCS#8 PEM, or base64 of a PKCS#8 DER or of a 32-byte seed)');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`is a ${key.asymmetricKeyType} key; an Ed25519 key is needed`);
  return key;
}

/** Comma-separated base64 raw Ed25519 public keys (as checkpoints show them). */
export function parseTrustedKeys(text: string): KeyObject[] {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p, i) => {
      const raw = Buffer.from(p, 'base64');
      if (raw.length !== 32) throw new Error(`entry ${i + 1} is ${raw.length} bytes; a public key is 32 bytes of base64`);
      return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
    });
}

/**
 * The checkpoint signing key: from GATEHOUSE_AUDIT_SIGNING_KEY when set; otherwise from
 * `<data dir>/audit-signing.key`, created on first start (mode 0600) and announced. It is kept out of
 * the database on purpose: whoever can rewrite the audit table must not be able to sign for it.
 */
export function loadAuditKeys({ signingKey, trustedKeys, dataDir, log }: { signingKey?: string; trustedKeys?: string; dataDir: string; log: Logger }): AuditKeys {
  const privateKey = signingKey ? parseSigningKey(signingKey) : readOrCreateKeyFile(dataDir, SIGNING_KEY_FILE, {
    create: () => generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    parse: parseSigningKey,
    log,
    announce: 'created the audit checkpoint signing key; keep it (and a copy) apart from the database: checkpoints it signed verify only with it',
  });
  const publicKey = rawPublicKey(createPublicKey(privateKey)).toString('base64');
  const signer = { keyId: keyIdOf(publicKey), publicKey, privateKey };
  const trusted = new Map<string, KeyObject>([[signer.keyId, createPublicKey(privateKey)]]);
  for (const key of trustedKeys ? parseTrustedKeys(trustedKeys) : []) trusted.set(keyIdOf(rawPublicKey(key).toString('base64')), key);
  return { signer, trusted };
}


/** Exactly what a checkpoint's signature covers; the version tag keeps it from meaning anything else. */
export const checkpointMessage = (c: { seq: string; hash: string; at: string }) => Buffer.from(`gatehouse.audit.checkpoint.v1\n${c.seq}\n${c.hash}\n${c.at}`, 'utf8');

export const signCheckpoint = (keys: AuditKeys, c: { seq: string; hash: string; at: string }): string =>
  sign(null, checkpointMessage(c), keys.signer.privateKey).toString('base64');

/** Why a checkpoint's signature does not hold, or null when it does. */
export function signatureProblem(keys: AuditKeys, c: { seq: string; hash: string; at: string; key_id: string; signature: string }): string | null {
  const key = keys.trusted.get(c.key_id);
  if (!key) return `signed by key ${c.key_id}, which is not a trusted key (GATEHOUSE_AUDIT_SIGNING_KEY / GATEHOUSE_AUDIT_TRUSTED_KEYS)`;
  let ok = false;
  try {
    ok = verify(null, checkpointMessage(c), key, Buffer.from(c.signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? null : `its signature does not verify with key ${c.key_id}`;
}
