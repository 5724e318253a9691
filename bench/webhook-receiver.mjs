// The receiver for bench:webhooks and bench:memory: a bare node:http server on loopback that
// answers 200 at once. It counts requests, and those carrying a `webhook-signature` header (signed
// POSTs) by distinct `webhook-id`, keeping each id's first arrival time and the time of the latest
// new id (wall clock, ms with fractions: performance.timeOrigin + performance.now(), comparable
// with the benchmark's own), and the first signed POST's body and headers as a sample. Its own
// routes: GET /count {count, signed, distinct, lastNewAt}, GET /stats (that and arrivals,
// perQuarterSecond: requests in each 250 ms since the reset, sample), POST /reset.
// Prints `listening <port>`.
import { createServer } from 'node:http';

const wallNow = () => performance.timeOrigin + performance.now();
let count, signed, distinct, lastNewAt, arrivals, since, perQuarterSecond, sample;
const reset = () => {
  count = 0;
  signed = 0;
  distinct = 0;
  lastNewAt = null;
  arrivals = {};
  since = wallNow();
  perQuarterSecond = [];
  sample = null;
};
reset();

const server = createServer((req, res) => {
  if (req.url === '/count') return res.end(JSON.stringify({ count, signed, distinct, lastNewAt }));
  if (req.url === '/stats') {
    return res.end(JSON.stringify({ count, signed, distinct, lastNewAt, arrivals, perQuarterSecond: Array.from(perQuarterSecond, (n) => n ?? 0), sample }));
  }
  if (req.url === '/reset') {
    reset();
    return res.end('{}');
  }
  const at = wallNow();
  const isSigned = req.headers['webhook-signature'] !== undefined;
  // Only the first signed body is kept; every other body is drained unread.
  const chunks = isSigned && sample === null ? [] : null;
  if (chunks) req.on('data', (c) => chunks.push(c));
  else req.resume();
  req.on('end', () => {
    count++;
    const slot = Math.floor((at - since) / 250);
    perQuarterSecond[slot] = (perQuarterSecond[slot] ?? 0) + 1;
    const id = req.headers['webhook-id'];
    if (isSigned) {
      signed++;
      if (chunks && sample === null) sample = { path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      if (id && arrivals[id] === undefined) {
        distinct++;
        lastNewAt = at;
      }
    }
    if (id && arrivals[id] === undefined) arrivals[id] = at;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
