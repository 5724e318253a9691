/**
 * Group commit: a call made while a batch is being written joins the next batch, so under load one
 * statement (or transaction) writes many items and an idle system writes each at once, with no
 * timer adding latency. A call resolves with its item's result once its batch is committed.
 * With `isolateFailures`, a failed batch is retried item by item, so one bad item fails alone.
 */
export function createGroupCommit<I, O>(write: (batch: I[]) => Promise<O[]>, opts: { maxBatch?: number; isolateFailures?: boolean } = {}) {
  const maxBatch = opts.maxBatch ?? 500;
  let gathering: Array<{ item: I; done: (o: O) => void; fail: (e: unknown) => void }> = [];
  let writing = false;

  async function writeAlone(entry: (typeof gathering)[number]) {
    try {
      entry.done((await write([entry.item]))[0]);
    } catch (err) {
      entry.fail(err);
    }
  }

  async function flush() {
    writing = true;
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
    writing = false;
  }

  return (item: I): Promise<O> =>
    new Promise<O>((done, fail) => {
      gathering.push({ item, done, fail });
      if (!writing) void flush();
    });
}
