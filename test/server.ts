import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createLogger } from '../src/log.js';
import { createPollcast, MemoryHub, startPollcast } from '../src/index.js';
import { publish, rawExchange, request } from './fixtures/http.js';

t.test('embedding: the handler mounts in a server of your own', async (t) => {
  const pollcast = createPollcast({ pollTimeoutMs: 5_000 });
  const server = createServer((req, res) => {
    if (req.url === '/health') res.end('mine');
    else pollcast.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  t.equal((await request(origin, '/health')).body, 'mine');
  const waiting = request(origin, '/subscribe');
  while (pollcast.hub.stats().waiting === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  await publish(origin, 'embedded');
  t.equal((await waiting).body, 'embedded');

  const parked = request(origin, '/subscribe');
  while (pollcast.hub.stats().waiting === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const closing = pollcast.close();
  t.equal(pollcast.close(), closing, 'close() returns the same promise every time');
  t.equal((await parked).status, 503, 'closing answers the parked poll');
  await closing;
  t.equal(pollcast.state, 'closed');
  const late = await request(origin, '/stats');
  t.equal(late.status, 503, 'a closed handler refuses requests');
  t.equal(late.headers.connection, 'close');
});

t.test('embedding: handleUpgrade hands offers other than a WebSocket back to your server as HTTP/1.1', async (t) => {
  const pollcast = createPollcast();
  const server = createServer((req, res) => {
    if (req.url === '/health') res.end('mine');
    else pollcast.handle(req, res);
  });
  server.on('upgrade', pollcast.handleUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    await pollcast.close();
    await new Promise((resolve) => server.close(resolve));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const h2c = 'Connection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
  t.match(await rawExchange(origin, `GET /health HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`), /^HTTP\/1\.1 200 [^]*\r\n\r\nmine$/);
  t.match(await rawExchange(origin, `GET /stats HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`), /^HTTP\/1\.1 200 [^]*"waiting":0/);
});

t.test('startPollcast() listens, close() stops it', async (t) => {
  const hub = new MemoryHub({ historyLimit: 2 });
  const pollcast = await startPollcast({ port: 0 }, hub);
  t.equal(pollcast.state, 'listening');
  t.equal(pollcast.hub, hub, 'a hub can be supplied');
  await t.rejects(pollcast.listen(), /cannot listen when listening/);
  await pollcast.close();
  t.equal(pollcast.state, 'closed');
});

t.test('bad options are rejected at creation', async (t) => {
  t.throws(() => createPollcast({ pollTimeoutMs: -1 }), RangeError);
});

t.test('listen() rejects when the port is taken', async (t) => {
  const first = await startPollcast({ port: 0 });
  t.teardown(() => first.close());
  await t.rejects(startPollcast({ port: first.address!.port }), { code: 'EADDRINUSE' });
});

t.test('an unexpected error becomes a bare 500 that leaks nothing', async (t) => {
  const hub = new MemoryHub();
  hub.publish = () => Promise.reject(new Error('secret internals at /srv/db'));
  const logged: string[] = [];
  const log = createLogger('info', { write: (line: string) => void logged.push(line) });
  const pollcast = await startPollcast({ port: 0 }, hub, log);
  t.teardown(() => pollcast.close());
  const answer = await request(`http://127.0.0.1:${pollcast.address!.port}`, '/publish', { method: 'POST', body: 'x' });
  t.equal(answer.status, 500);
  t.equal(answer.body, 'internal server error\n');
  t.equal(answer.headers['pollcast-error'], 'internal');
  const error = logged.map((line) => JSON.parse(line) as { level: number; err?: { message: string } }).find((entry) => entry.level === 50);
  t.match(error?.err?.message, /secret internals/, 'the details go to the log, not the client');
});
