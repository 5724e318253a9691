// The upstream for bench/upstream.mjs: a bare node:http server speaking the one Email Bison call
// the benchmark makes, `GET /api/users` (the authenticated user), with Email Bison's auth
// (`Authorization: Bearer ID|secret`) and its `{data: {id, name, email}}` shape. A wrong or missing
// token gets 401 `{message: "Unauthenticated."}`, anything else 404. No framework, no logging, so it
// costs as little as an upstream can and the benchmark times Gatehouse, not the fake.
//
// Run as its own process with FAKE_TOKEN set; it prints `listening <port>` once it accepts
// connections. `GET /__stats` answers how many requests it served, split by whether they came
// through Gatehouse (user-agent `gatehouse`) or directly, so the benchmark can check that every call
// that reached the provider through Gatehouse is in Gatehouse's call log and health counters.
import { createServer } from 'node:http';

const token = process.env.FAKE_TOKEN;
if (!token || !/^\d+\|\S+$/.test(token)) {
  process.stderr.write('FAKE_TOKEN must be an Email Bison token, ID|secret\n');
  process.exit(2);
}
const expected = `Bearer ${token}`;

const json = (body) => {
  const bytes = Buffer.from(JSON.stringify(body));
  return { bytes, headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) } };
};
const user = json({ data: { id: 1, name: 'Bench User', email: 'bench@example.com' } });
const unauthenticated = json({ message: 'Unauthenticated.' });
const notFound = json({ message: 'Not Found' });

const stats = { gatehouse: 0, direct: 0, unauthorized: 0, notFound: 0 };

const server = createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  if (path === '/__stats') {
    const s = json(stats);
    res.writeHead(200, s.headers).end(s.bytes);
    return;
  }
  if (req.headers['user-agent'] === 'gatehouse') stats.gatehouse++;
  else stats.direct++;
  if (req.method !== 'GET' || path !== '/api/users') {
    stats.notFound++;
    res.writeHead(404, notFound.headers).end(notFound.bytes);
    return;
  }
  if (req.headers.authorization !== expected) {
    stats.unauthorized++;
    res.writeHead(401, unauthenticated.headers).end(unauthenticated.bytes);
    return;
  }
  res.writeHead(200, user.headers).end(user.bytes);
});
// Longer than any pause between phases, so neither client reconnects mid-run.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
