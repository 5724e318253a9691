// The receiver for bench/webhooks.mjs: a bare node:http server on loopback that answers 200 at
// once, counts requests and keeps each webhook-id's first arrival time (wall clock, ms). Its own
// GET /stats answers {count, arrivals, perQuarterSecond} (requests in each 250 ms since the reset)
// and POST /reset clears them. Prints `listening <port>`.
import { createServer } from 'node:http';

let count = 0;
let arrivals = {};
let since = Date.now();
let perQuarterSecond = [];
const server = createServer((req, res) => {
  if (req.url === '/stats') return res.end(JSON.stringify({ count, arrivals, perQuarterSecond: Array.from(perQuarterSecond, (n) => n ?? 0) }));
  if (req.url === '/reset') {
    count = 0;
    arrivals = {};
    since = Date.now();
    perQuarterSecond = [];
    return res.end('{}');
  }
  const at = Date.now();
  req.resume();
  req.on('end', () => {
    count++;
    const slot = Math.floor((at - since) / 250);
    perQuarterSecond[slot] = (perQuarterSecond[slot] ?? 0) + 1;
    const id = req.headers['webhook-id'];
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
