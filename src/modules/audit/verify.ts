import type { Executor } from '../../db/types.js';
import { GENESIS_HASH, entryHash, fieldsOf } from './chain.js';
import { checkpointPage, entryHashes, gaplessAfter } from './store-checkpoints.js';
import { readCheckpointFile, type CheckpointView } from './checkpoint-sinks.js';
import { signatureProblem, type AuditKeys } from './signing-key.js';
import { chainPage } from './store.js';

export type ChainProblem = 'hash_mismatch' | 'broken_link' | 'gap' | 'truncated' | 'checkpoint_mismatch' | 'bad_signature';

export interface VerifyResult {
  ok: boolean;
  /** Entries found intact before the first problem (all of them when ok). */
  entries: number;
  first_bad?: { seq: string; id?: string; reason: ChainProblem; detail: string };
  checkpoints: { verified: number; last_seq: number | null; from_file?: number };
}

type Problem = NonNullable<VerifyResult['first_bad']>;
type Checkpoint = Pick<CheckpointView, 'hash' | 'at' | 'key_id' | 'signature'> & { seq: string };

export interface VerifyOptions {
  /** A file sink's JSON Lines: checkpoints that survive even if their rows were deleted. */
  checkpointFile?: string;
  onProgress?: (checked: number) => void;
}

const PAGE = 1000;
const short = (hash: string) => hash.slice(0, 16);

/**
 * Checks the audit chain against itself and against its signed checkpoints:
 * - each checkpoint's signature, by a trusted key (bad_signature);
 * - each checkpoint's hash equals the stored hash of its entry (checkpoint_mismatch: the chain was
 *   rewritten and its hashes recomputed, or the entry is gone);
 * - each entry's link and hash (broken_link, hash_mismatch) and that no seq is missing (gap);
 * - the chain still reaches the newest checkpoint (truncated: its tail was deleted).
 * Checkpoints are read before the entries, so every one of them was made before the walk began and
 * an entry appended meanwhile cannot be mistaken for a truncation.
 */
export async function verifyAuditChain(db: Executor, keys: AuditKeys, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const anchors = { verified: 0, fromFile: 0, lastSeq: null as bigint | null, firstMissing: null as bigint | null, problem: undefined as Problem | undefined };

  const checkBatch = async (batch: Checkpoint[]) => {
    const entries = await entryHashes(db, [...new Set(batch.map((c) => c.seq))]);
    for (const c of batch) {
      const why = signatureProblem(keys, c);
      if (why) {
        anchors.problem ??= { seq: c.seq, reason: 'bad_signature', detail: `the checkpoint at seq ${c.seq} is forged: ${why}` };
        continue;
      }
      if (anchors.lastSeq === null || BigInt(c.seq) > anchors.lastSeq) anchors.lastSeq = BigInt(c.seq);
      const entry = entries.get(c.seq);
      if (!entry) {
        // Beyond the chain's end (truncated) or deleted: which one, only the walk can tell.
        if (anchors.firstMissing === null || BigInt(c.seq) < anchors.firstMissing) anchors.firstMissing = BigInt(c.seq);
        continue;
      }
      if (entry.hash !== c.hash) {
        anchors.problem ??= {
          seq: c.seq, id: entry.id, reason: 'checkpoint_mismatch',
          detail: `the checkpoint at seq ${c.seq} says hash ${short(c.hash)}…, the entry has ${short(entry.hash)}…: the chain was rewritten at or before it`,
        };
        continue;
      }
      anchors.verified++;
    }
  };

  for (let after = '0'; ;) {
    const page = await checkpointPage(db, after, PAGE);
    await checkBatch(page.map((r) => ({ ...r, seq: String(r.seq), at: new Date(r.at).toISOString() })));
    if (page.length < PAGE) break;
    after = page[page.length - 1].id;
  }
  if (opts.checkpointFile) {
    let batch: Checkpoint[] = [];
    for await (const cp of readCheckpointFile(opts.checkpointFile)) {
      batch.push({ ...cp, seq: String(cp.seq) });
      anchors.fromFile++;
      if (batch.length === PAGE) {
        await checkBatch(batch);
        batch = [];
      }
    }
    await checkBatch(batch);
  }

  const walk = await walkChain(db, opts.onProgress);
  const gone = anchors.firstMissing !== null && anchors.firstMissing <= walk.lastSeq ? anchors.firstMissing : null;
  const problem =
    walk.problem ??
    anchors.problem ??
    (gone !== null
      ? { seq: String(gone), reason: 'checkpoint_mismatch' as const, detail: `the checkpoint at seq ${gone} names an entry that is no longer there: the chain was rewritten at or before it` }
      : undefined) ??
    (anchors.lastSeq !== null && anchors.lastSeq > walk.lastSeq
      ? { seq: String(anchors.lastSeq), reason: 'truncated' as const, detail: `the chain ends at seq ${walk.lastSeq}, before the checkpoint at seq ${anchors.lastSeq}: entries were deleted from its end` }
      : undefined);
  return {
    ok: !problem,
    entries: walk.count,
    ...(problem ? { first_bad: problem } : {}),
    checkpoints: {
      verified: anchors.verified,
      last_seq: anchors.lastSeq === null ? null : Number(anchors.lastSeq),
      ...(opts.checkpointFile ? { from_file: anchors.fromFile } : {}),
    },
  };
}

/** Walks every entry in seq order; names the first whose seq, link or hash does not hold. */
async function walkChain(db: Executor, onProgress?: (checked: number) => void) {
  const origin = await gaplessAfter(db);
  let prevHash = GENESIS_HASH;
  let prevSeq = 0n;
  let count = 0;
  for (;;) {
    const page = await chainPage(db, prevSeq.toString(), PAGE);
    for (const row of page) {
      const seq = BigInt(row.seq);
      // Below the origin, seq came from a sequence that skips values on rollback: only the links count there.
      if (seq - 1n >= origin && seq - 1n !== prevSeq) {
        const from = prevSeq + 1n > origin ? prevSeq + 1n : origin;
        const missing = from === seq - 1n ? `seq ${from} is missing` : `seqs ${from} to ${seq - 1n} are missing`;
        return { count, lastSeq: prevSeq, problem: { seq: row.seq, id: row.id, reason: 'gap' as const, detail: `${missing} before this entry: deleted` } };
      }
      if (row.prev_hash !== prevHash) {
        return { count, lastSeq: prevSeq, problem: { seq: row.seq, id: row.id, reason: 'broken_link' as const, detail: 'its link does not name the hash of the entry before it' } };
      }
      if (entryHash(prevHash, fieldsOf(row)) !== row.hash) {
        return { count, lastSeq: prevSeq, problem: { seq: row.seq, id: row.id, reason: 'hash_mismatch' as const, detail: 'its content was edited after it was written' } };
      }
      prevHash = row.hash;
      prevSeq = seq;
      count++;
    }
    onProgress?.(count);
    if (page.length < PAGE) return { count, lastSeq: prevSeq, problem: undefined };
  }
}
