/**
 * Group commit: a call made while a batch is being written joins the next batch, so under load one
 * statement (or transaction) writes many items and an idle system writes each at once (after one
 * turn of the event loop, no timer). A call resolves with its item's result once its batch is committed.
 * Up to `writers` batches are written at once.
 * With `isolateFailures`, a failed batch is retried item by item, so one bad item fails alone.
 */
export function createGroupCommit<I, O>(
  write: (batch: I[]) => Promise<O[]>,
  opts: { maxBatch?: number; isolateFailures?: boolean; writers?: number } = {},
) {
  const maxBatch = opts.maxBatch ?? 500;
  // Batches written at once: on PostgreSQL a few overlap their round trips and commits.
  const writers = opts.writers ?? 1;
  let gathering: Array<{ item: I; done: (o: O) => void; fail: (e: unknown) => void }> = [];
  let writing = 0;
  let scheduled = false;

  async function writeAlone(entry: (typeof gathering)[number]) {
    try {
      entry.done((await write([entry.item]))[0]);
    } catch (err) {
      entry.fail(err);
    }
  }

  async function flush() {
    scheduled = false;
    writing++;
    while (gathering.length > 0) {
      const batch = gathering.slice(0, maxBatch);
      gathering = gathering.slice(maxBatch);
      try {
        const out = await write(batch.map((b) => b.item));
        batch.forEach((b, i) => b.done(out[i]));
      } catch (err) {
        if (opts.isolateFailures && batch.length > 1) for (const b of batch) await writeAlone(b);
        else for (const b of batch) b.fail(err);
      }
    }
    writing--;
  }

  return (item: I): Promise<O> =>
    new Promise<O>((done, fail) => {
      gathering.push({ item, done, fail });
      if (scheduled || writing >= writers) return;
      scheduled = true;
      // The first write waits one turn of the event loop, so requests that arrived together join it:
      // on the embedded database a write runs synchronously, and nothing new arrives while it runs.
      setImmediate(() => void flush());
    });
}

/**
 * Batches written at once for a database: PostgreSQL overlaps a few round trips and commits; the
 * embedded database runs one statement at a time on this thread, so more would only queue.
 */
export const groupCommitWriters = (kind: 'pglite' | 'postgres') => (kind === 'postgres' ? 4 : 1);
