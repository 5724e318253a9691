import { Worker } from 'node:worker_threads';

export interface EmbeddedResult {
  rows: any[];
  affectedRows: number;
}

/** The embedded database as the main thread sees it: PGlite on its own thread, spoken to by messages. */
export interface EmbeddedClient {
  query(sql: string, params: readonly unknown[]): Promise<EmbeddedResult>;
  exec(sql: string): Promise<void>;
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => void>;
  close(): Promise<void>;
  readonly closed: boolean;
}

type Reply = { id: number; result?: unknown; error?: { message: string } & Record<string, unknown> };

/** Starts the database thread; resolves once PGlite has opened (or created) the data folder. */
export async function startEmbedded(location: string | undefined): Promise<EmbeddedClient> {
  const worker = new Worker(new URL('./pglite-thread.mjs', import.meta.url), { workerData: { location } });
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let nextId = 1;
  let closed = false;
  let failure: Error | undefined;

  const failAll = (err: Error) => {
    failure = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => {
      worker.off('error', reject);
      resolve();
    });
  });
  worker.on('message', (msg: Reply | { channel: string; payload: string }) => {
    if ('channel' in msg) {
      for (const h of handlers.get(msg.channel) ?? []) h(msg.payload);
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(Object.assign(new Error(msg.error.message), msg.error));
    else p.resolve(msg.result);
  });
  worker.on('error', (err) => failAll(new Error(`the embedded database thread failed: ${err.message}`)));
  worker.on('exit', (code) => {
    if (!closed) failAll(new Error(`the embedded database thread exited (code ${code})`));
  });

  const call = <T>(msg: Record<string, unknown>): Promise<T> => {
    if (failure) return Promise.reject(failure);
    if (closed) return Promise.reject(new Error('the embedded database is closed'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id });
    });
  };

  return {
    query: (sql, params) => call<EmbeddedResult>({ op: 'query', sql, params }),
    exec: (sql) => call<void>({ op: 'exec', sql }),
    async listen(channel, onMessage) {
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        await call({ op: 'listen', channel });
      }
      set.add(onMessage);
      return () => set.delete(onMessage);
    },
    async close() {
      if (closed) return;
      if (!failure) await call({ op: 'close' });
      closed = true;
      await worker.terminate();
    },
    get closed() {
      return closed;
    },
  };
}
