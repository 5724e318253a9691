import { freePort, sleep, startGatehouse, type GatehouseProcess } from '../helpers/processes.js';

/** A fixed place (role and port) that one Gatehouse process occupies at a time; kills free it, restarts refill it. */
export interface Slot {
  role: 'serve' | 'worker';
  port: number;
  current: GatehouseProcess;
  url: string;
  /** Outputs of every process that has held this slot, killed ones included (for a failure report). */
  history: string[];
}

/** `apis` × `gatehouse serve --no-worker` and `workers` × `gatehouse worker` on one database. */
export async function startCluster(env: Record<string, string>, apis: number, workers: number) {
  const slots: Slot[] = [];
  for (const [role, n] of [['serve', apis], ['worker', workers]] as const) {
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      const current = await startGatehouse(role, env, port);
      slots.push({ role, port, current, url: current.url, history: [] });
    }
  }
  await Promise.all(slots.map((s) => s.current.ready(120_000)));

  const restart = async (slot: Slot) => {
    slot.history.push(slot.current.output());
    slot.current = await startGatehouse(slot.role, env, slot.port);
  };

  return {
    slots,
    apis: slots.filter((s) => s.role === 'serve'),
    workers: slots.filter((s) => s.role === 'worker'),
    /** SIGKILL, a short pause, and a new process in the same place; resolves once it is ready. */
    async killAndRestart(slot: Slot, pauseMs = 500) {
      await slot.current.kill('SIGKILL');
      await sleep(pauseMs);
      await restart(slot);
      await slot.current.ready(120_000);
    },
    async allReady() {
      await Promise.all(slots.map((s) => s.current.ready(120_000)));
    },
    async stop() {
      const results = await Promise.all(slots.map((s) => s.current.kill('SIGTERM')));
      return results.map((r, i) => ({ role: slots[i].role, ...r }));
    },
    outputs: () => slots.map((s) => [...s.history, s.current.output()].join('\n--- restarted ---\n')),
  };
}
export type Cluster = Awaited<ReturnType<typeof startCluster>>;
