import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Executor } from '../../db/types.js';
import { chainHead, insertCheckpoint, latestCheckpoint, listCheckpoints, type CheckpointRow } from './store-checkpoints.js';
import { createCheckpointSinks, type CheckpointSinks, type CheckpointView } from './checkpoint-sinks.js';
import { loadAuditKeys, signCheckpoint, type AuditKeys } from './signing-key.js';

export interface AuditAnchor {
  keys: AuditKeys;
  sinks: CheckpointSinks;
  /** The file sink, which verify reads as a second source of checkpoints. */
  checkpointFile?: string;
}

/** The signing key (outside the database) and the sinks, as configured. */
export function auditAnchor(config: Config, log: Logger): AuditAnchor {
  const keys = loadAuditKeys({ signingKey: config.auditSigningKey, trustedKeys: config.auditTrustedKeys, dataDir: config.dataDir, log });
  const sinks = createCheckpointSinks({
    file: config.auditCheckpointFile, url: config.auditCheckpointUrl, allowPrivateTargets: config.allowPrivateTargets, keys, log,
  });
  return { keys, sinks, checkpointFile: config.auditCheckpointFile };
}

const viewOf = (row: CheckpointRow): CheckpointView => ({
  id: String(row.id),
  seq: Number(row.seq),
  hash: row.hash,
  at: new Date(row.at).toISOString(),
  key_id: row.key_id,
  public_key: row.public_key,
  signature: row.signature,
});

export function createCheckpointService(db: Executor, { keys, sinks }: AuditAnchor) {
  /** Signs the chain's newest entry, stores the checkpoint and pushes it out; null on an empty chain. */
  async function create(): Promise<CheckpointView | null> {
    const head = await chainHead(db);
    if (!head) return null;
    const at = new Date().toISOString();
    const seq = String(head.seq);
    const signature = signCheckpoint(keys, { seq, hash: head.hash, at });
    const row = await insertCheckpoint(db, { seq, hash: head.hash, at, key_id: keys.signer.keyId, public_key: keys.signer.publicKey, signature });
    const view = viewOf(row);
    await sinks.push(view);
    return view;
  }

  /** The periodic one: only when entries arrived since the newest checkpoint, so an idle log adds nothing. */
  async function createIfAdvanced(): Promise<CheckpointView | null> {
    const [head, last] = await Promise.all([chainHead(db), latestCheckpoint(db)]);
    if (!head || (last && BigInt(last.seq) >= BigInt(head.seq))) return null;
    return create();
  }

  async function list(limit: number, cursor?: string) {
    const rows = await listCheckpoints(db, limit, cursor);
    return { data: rows.map(viewOf), next_cursor: rows.length === limit ? String(rows[rows.length - 1].id) : null };
  }

  return { create, createIfAdvanced, list };
}
