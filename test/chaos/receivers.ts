import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { freePort } from '../helpers/processes.js';

export type Behaviour = 'fast' | 'flaky' | 'slow' | 'down-then-up';

export interface ChaosReceiver {
  behaviour: Behaviour;
  url: string;
  /** The endpoint's signing secret: every request is verified with the `standardwebhooks` package. */
  secret: string;
  /** webhook-id → when it was first answered 2xx (ms). */
  firstDelivered: Map<string, number>;
  /** webhook-id → how many times it was answered 2xx (more than 1: a redelivery). */
  delivered: Map<string, number>;
  requests: number;
  badSignatures: number;
  /** For down-then-up: starts listening (until then every connection is refused). */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** A slow receiver answers this long after the request; its endpoint's timeout is 2 s. */
export const SLOW_MS = 1600;

/**
 * A loopback receiver with one behaviour: fast (200 at once), flaky (every fifth request a 500),
 * slow (200 near the endpoint's timeout, sometimes past it) or down then up (connections refused
 * until `up()`). It verifies every signature and records which messages it accepted, and when.
 */
export async function startChaosReceiver(behaviour: Behaviour): Promise<ChaosReceiver> {
  const port = await freePort();
  let server: Server | undefined;
  const r: ChaosReceiver = {
    behaviour,
    url: `http://127.0.0.1:${port}/${behaviour}`,
    secret: '',
    firstDelivered: new Map(),
    delivered: new Map(),
    requests: 0,
    badSignatures: 0,
    async up() {
      if (server) return;
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          const n = ++r.requests;
          const body = Buffer.concat(chunks).toString('utf8');
          try {
            new Webhook(r.secret).verify(body, req.headers as Record<string, string>);
          } catch {
            r.badSignatures++;
            res.writeHead(400).end('bad signature');
            return;
          }
          if (behaviour === 'flaky' && n % 5 === 0) {
            res.writeHead(500).end('flaky');
            return;
          }
          const answer = () => {
            if (res.destroyed) return; // the sender gave up (timeout): not delivered
            const id = String(req.headers['webhook-id']);
            if (!r.firstDelivered.has(id)) r.firstDelivered.set(id, Date.now());
            r.delivered.set(id, (r.delivered.get(id) ?? 0) + 1);
            res.writeHead(200).end('ok');
          };
          if (behaviour === 'slow') setTimeout(answer, SLOW_MS);
          else answer();
        });
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    async close() {
      if (!server) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    },
  };
  if (behaviour !== 'down-then-up') await r.up();
  return r;
}
