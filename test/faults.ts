import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Batch } from '../src/protocol.js';
import { forkServer } from './fixtures/server.js';
import type { Forked } from './fixtures/server.js';
import { poll, publish, request, waitForWaiting } from './fixtures/http.js';
import { sleep } from './fixtures/wait.js';

/**
 * Clients that fail in the middle of things: hang up mid-answer or mid-body,
 * pipeline, keep a connection for hundreds of requests, or come and go in a
 * loop. After each, nothing may be left parked, counted or growing.
 */

interface Stats {
  waiting: number;
  channels: number;
  published: number;
  delivered: number;
  memory: { rss: number; heapUsed: number };
}

async function stats(origin: string): Promise<Stats> {
  return JSON.parse((await request(origin, '/stats')).body) as Stats;
}

/** A connected raw socket whose errors (resets of our own making) are ignored. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends on `socket` until it closes (or `ms` pass, then we close). */
function readAll(socket: Socket, ms = 5_000): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits a reply into its responses; each of ours carries a Content-Length (or has no body). */
function splitResponses(reply: string): Response[] {
  const out: Response[] = [];
  let rest = reply;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`incomplete response: ${JSON.stringify(rest.slice(0, 200))}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine!);
    if (!status) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const headers = Object.fromEntries(
      lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    const length = Number(headers['content-length'] ?? 0);
    const bodyBytes = Buffer.from(rest.slice(end + 4), 'utf8');
    out.push({ status: Number(status[1]), headers, body: bodyBytes.subarray(0, length).toString('utf8') });
    rest = bodyBytes.subarray(length).toString('utf8');
  }
  return out;
}

/** GET / POST text for a raw socket. */
function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
}
function post(path: string, body: string, extra = ''): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

const JSON_ACCEPT = 'Accept: application/json\r\n';

t.test('a subscriber that hangs up in the middle of a large answer is forgotten, and the server carries on', async (t) => {
  // One answer may carry 8 MiB here.
  const server = await forkServer(t, ['--poll-timeout', '60000', '--stream-buffer', '8388608']);
  const { origin, port } = server;
  // 100 messages of 60 KB: since=0 in JSON is one 6 MB batch, more than the
  // socket buffers hold while the client does not read, so it is still being
  // written when the client hangs up.
  const texts = Array.from({ length: 100 }, (_, i) => `${i}:`.padEnd(60_000, String.fromCharCode(97 + (i % 26))));
  for (const text of texts) await publish(origin, text, 'big');

  const hangUps = Array.from({ length: 9 }, async (_, i) => {
    const socket = await open(port);
    socket.pause();
    socket.write(get('/subscribe/big?since=0', i % 3 === 0 ? '' : JSON_ACCEPT));
    await sleep(200);
    const first = new Promise<string>((resolve) =>
      socket.once('data', (chunk: Buffer) => {
        socket.destroy(); // with the rest unread: the server's write is cut by a reset
        resolve(chunk.toString('latin1').slice(0, 12));
      }),
    );
    socket.resume();
    return first;
  });
  t.same(new Set(await Promise.all(hangUps)), new Set(['HTTP/1.1 200']), 'each got the start of its answer, then hung up');

  // The same for parked polls woken by a large message.
  const parked = await Promise.all(
    Array.from({ length: 6 }, async () => {
      const socket = await open(port);
      socket.once('data', () => socket.destroy());
      socket.write(get('/subscribe/big', JSON_ACCEPT));
      return { closed: new Promise((resolve) => socket.once('close', resolve)) };
    }),
  );
  await waitForWaiting(origin, parked.length);
  const before = await stats(origin);
  await publish(origin, 'z'.repeat(60_000), 'big');
  await Promise.all(parked.map((p) => p.closed));
  const after = await stats(origin);
  t.equal(after.delivered - before.delivered, parked.length, 'the message was handed to each of them');

  await waitForWaiting(origin, 0);
  t.equal(server.child.exitCode, null, 'the server is still running');
  const all = JSON.parse((await poll(origin, '0', 'big')).body) as Batch;
  t.same(
    all.messages.map((m) => m.text),
    [...texts, 'z'.repeat(60_000)],
    'the history is intact for the next subscriber',
  );
});

t.test('a publisher that aborts mid-body publishes nothing and wakes nobody', async (t) => {
  const server = await forkServer(t, ['--poll-timeout', '60000', '--max-body', '65536']);
  const { origin, port } = server;
  const cursor = JSON.parse((await poll(origin, '0', 'abort')).body) as Batch;
  const waiting = poll(origin, cursor.cursor, 'abort');
  await waitForWaiting(origin, 1);
  const before = await stats(origin);

  const aborts: [string, string, (socket: Socket) => void][] = [
    ['declared length, hang up', post('/publish/abort', 'x'.repeat(1000)).slice(0, -990), (s) => s.destroy()],
    ['declared length, half-close', post('/publish/abort', 'x'.repeat(1000)).slice(0, -990), (s) => s.end()],
    ['declared length, reset', post('/publish/abort', 'x'.repeat(1000)).slice(0, -990), (s) => s.resetAndDestroy()],
    ['one byte short of the limit', post('/publish/abort', 'y'.repeat(65_536)).slice(0, -1), (s) => s.destroy()],
    ['chunked, hang up', 'POST /publish/abort HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', (s) => s.destroy()],
    ['chunked, half-close', 'POST /publish/abort HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', (s) => s.end()],
    ['chunked, mid-chunk', 'POST /publish/abort HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhalf', (s) => s.destroy()],
  ];
  for (const [name, bytes, leave] of aborts) {
    const socket = await open(port);
    const closed = readAll(socket);
    socket.write(bytes);
    await sleep(50); // the server has the headers and part of the body
    leave(socket);
    const reply = await closed;
    t.notMatch(reply, /^HTTP\/1\.1 200/, `${name}: not acknowledged`);
  }
  await sleep(100);
  t.equal((await stats(origin)).published, before.published, 'nothing was published');
  t.equal((await stats(origin)).waiting, 1, 'the subscriber is still waiting');

  const id = await publish(origin, 'complete', 'abort');
  const batch = JSON.parse((await waiting).body) as Batch;
  t.same(
    batch.messages.map((m) => [m.id, m.text]),
    [[id, 'complete']],
    'the subscriber was woken by the complete message only',
  );
  t.equal((await stats(origin)).published, before.published + 1);
});

t.test('pipelined requests on one socket are answered in order', async (t) => {
  const server = await forkServer(t, ['--poll-timeout', '60000']);
  const { port } = server;

  t.test('publish, subscribe and stats in one write', async (t) => {
    const socket = await open(port);
    const reply = readAll(socket);
    socket.write(post('/publish/pipe', 'first') + get('/subscribe/pipe?since=0', JSON_ACCEPT) + get('/stats', 'Connection: close\r\n'));
    const [published, subscribed, counted, ...more] = splitResponses(await reply);
    t.same(more, [], 'three answers, no more');
    // Node works on pipelined requests at once (the subscribe may be served
    // before the publish's body is read); only the answers are in order.
    t.equal(published!.status, 200);
    t.equal(published!.body, `${published!.headers['pollcast-id']}\n`, 'first the publish');
    t.equal(subscribed!.status, 200);
    t.match(JSON.parse(subscribed!.body), { messages: Array, missed: false, cursor: String }, 'then the subscribe');
    t.equal(counted!.status, 200);
    t.match(JSON.parse(counted!.body), { waiting: Number, published: Number }, 'then the stats');
    const history = JSON.parse((await poll(server.origin, '0', 'pipe')).body) as Batch;
    t.same(
      history.messages.map((m) => [m.id, m.text]),
      [[published!.headers['pollcast-id'], 'first']],
      'the message was stored',
    );
  });

  t.test('a parked poll holds back the answers behind it, which come in order once it is answered', async (t) => {
    const socket = await open(port);
    const reply = readAll(socket);
    // The publish behind the parked poll is what wakes it.
    socket.write(
      get('/subscribe/pipe2', JSON_ACCEPT) + get('/stats') + post('/publish/pipe2', 'woken by my own pipeline', 'Connection: close\r\n'),
    );
    const [woken, counted, published, ...more] = splitResponses(await reply);
    t.same(more, []);
    t.equal(woken!.status, 200);
    const batch = JSON.parse(woken!.body) as Batch;
    t.same(
      batch.messages.map((m) => m.text),
      ['woken by my own pipeline'],
    );
    t.equal(counted!.status, 200);
    t.match(counted!.body, /^\{"waiting":/);
    t.equal(published!.status, 200);
    t.equal(published!.headers['pollcast-id'], batch.messages[0]!.id, 'the third answer is the publish that the first one carries');
  });

  t.test('twenty requests in one write get twenty answers in order, and the publishes are stored in order', async (t) => {
    const socket = await open(port);
    const reply = readAll(socket);
    const kinds = Array.from({ length: 20 }, (_, i) => ['publish', 'subscribe', 'stats', 'missing'][i % 4]!);
    const requests = kinds.map((kind, i) => {
      if (kind === 'publish') return post('/publish/pipe3', `m${i}`, JSON_ACCEPT);
      if (kind === 'subscribe') return get('/subscribe/pipe3?since=0', JSON_ACCEPT);
      if (kind === 'stats') return get('/stats');
      return get(`/missing-${i}`);
    });
    socket.write(requests.join('') + get('/stats', 'Connection: close\r\n'));
    const answers = splitResponses(await reply);
    t.equal(answers.length, 21, 'one answer each');
    const seen = answers.slice(0, 20).map((answer) => {
      if (answer.status === 404) return 'missing';
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      if ('id' in body) return 'publish';
      if ('messages' in body) return 'subscribe';
      return 'waiting' in body ? 'stats' : 'unknown';
    });
    t.same(seen, kinds, 'each answer is to the request in its place');
    const ids = answers.filter((_, i) => kinds[i] === 'publish').map((answer) => (JSON.parse(answer.body) as { id: string }).id);
    const history = JSON.parse((await poll(server.origin, '0', 'pipe3')).body) as Batch;
    t.same(
      history.messages.map((m) => m.id),
      ids,
      'the publishes were stored in the order sent',
    );
    t.same(
      history.messages.map((m) => m.text),
      kinds.flatMap((kind, i) => (kind === 'publish' ? [`m${i}`] : [])),
    );
  });
});

t.test('200 sequential requests over one keep-alive connection all work', async (t) => {
  const server = await forkServer(t, ['--poll-timeout', '60000']);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const sockets = new Set<unknown>();
  const call = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: server.port, method, path, agent, headers: { accept: 'application/json' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.once('socket', (socket) => sockets.add(socket));
      req.on('error', reject);
      req.end(body);
    });

  let cursor = (JSON.parse((await call('GET', '/subscribe/ka?since=0')).body) as Batch).cursor;
  let published = '';
  const failures: string[] = [];
  for (let i = 0; i < 200; i++) {
    const kind = i % 3;
    const answer =
      kind === 0
        ? await call('POST', '/publish/ka', `keep ${i}`)
        : kind === 1
          ? await call('GET', `/subscribe/ka?since=${cursor}`)
          : await call('GET', '/stats');
    if (answer.status !== 200) failures.push(`${i}: ${answer.status} ${answer.body}`);
    else if (kind === 0) published = `keep ${i}`;
    else if (kind === 1) {
      const batch = JSON.parse(answer.body) as Batch;
      if (batch.messages.length !== 1 || batch.messages[0]!.text !== published) failures.push(`${i}: got ${answer.body}`);
      cursor = batch.cursor;
    }
  }
  t.same(failures, [], 'every answer was right');
  t.equal(sockets.size, 1, 'all 200 went over one connection');
  t.equal((await stats(server.origin)).published, 67);
});

/** The ways a client can leave. */
const LEAVES: [string, (socket: Socket) => Promise<void>][] = [
  ['connects and leaves', async (s) => void s.destroy()],
  ['sends half a request line', async (s) => void (s.write('GET /subscr'), s.destroy())],
  [
    'sends headers without their end',
    async (s) => void (s.write('GET /subscribe/churn HTTP/1.1\r\nHost: x\r\n'), await sleep(5), s.destroy()),
  ],
  ['hangs up mid-poll', async (s) => void (s.write(get('/subscribe/churn', JSON_ACCEPT)), await sleep(Math.random() * 30), s.destroy())],
  ['resets mid-poll', async (s) => void (s.write(get('/subscribe/churn')), await sleep(Math.random() * 30), s.resetAndDestroy())],
  [
    'half-closes mid-poll',
    async (s) => void (s.write(get('/subscribe/churn')), await sleep(Math.random() * 30), s.end(), await sleep(20), s.destroy()),
  ],
  ['hangs up mid-body', async (s) => void (s.write(post('/publish/churn', 'x'.repeat(500)).slice(0, -100)), await sleep(5), s.destroy())],
  ['asks and leaves before the answer', async (s) => void (s.write(get('/stats')), s.destroy())],
  [
    'pipelines a stats behind a poll and leaves',
    async (s) => void (s.write(get('/subscribe/churn') + get('/stats')), await sleep(10), s.destroy()),
  ],
];

/** `count` connections, `concurrency` at a time, each leaving one of the ways above. */
async function churn(port: number, count: number, concurrency = 25): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const leave = LEAVES[next++ % LEAVES.length]![1];
        const socket = await open(port);
        const closed = new Promise((resolve) => socket.once('close', resolve));
        await leave(socket);
        await closed;
      }
    }),
  );
}

/**
 * The server with a way to force a full garbage collection from outside
 * (SIGUSR2), so that heap figures are what is really kept, not GC timing.
 */
const COLLECTABLE = {
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import=data:text/javascript,process.on('SIGUSR2',()=>globalThis.gc())`,
};

/** heapUsed right after a forced full collection, the least of two. */
async function collectedHeap(server: Forked): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 2; i++) {
    await sleep(200);
    server.child.kill('SIGUSR2');
    await sleep(200);
    least = Math.min(least, (await stats(server.origin)).memory.heapUsed);
  }
  return least;
}

const MB = 1024 * 1024;

t.test('connections opened and dropped in a loop leave nothing parked, counted or growing', async (t) => {
  // A poll timeout far beyond the test: only noticing the hang-ups can clean up.
  const server = await forkServer(t, ['--poll-timeout', '60000'], COLLECTABLE);
  const { origin, port } = server;
  await publish(origin, 'kept', 'history');
  const baseline = await stats(origin);

  await churn(port, 1_000);
  await waitForWaiting(origin, 0, 5_000);
  const first = await stats(origin);
  t.equal(first.channels, baseline.channels, 'the channels the polls made are dropped again');
  t.equal(first.published, baseline.published, 'no partial body was published');
  const warm = await collectedHeap(server);

  for (let round = 0; round < 4; round++) {
    await churn(port, 1_000);
    await waitForWaiting(origin, 0, 5_000);
  }
  const last = await collectedHeap(server);
  t.comment(`heapUsed after a full GC: ${(warm / MB).toFixed(1)} MiB after 1000 connections, ${(last / MB).toFixed(1)} MiB after 5000`);
  t.ok(last < warm + 4 * MB, `4000 more connections keep less than 4 MiB (kept ${((last - warm) / MB).toFixed(2)} MiB)`);

  t.equal(server.child.exitCode, null, 'the server is still running');
  const waiting = poll(origin, undefined, 'churn');
  await waitForWaiting(origin, 1);
  const id = await publish(origin, 'after the churn', 'churn');
  t.same(
    (JSON.parse((await waiting).body) as Batch).messages.map((m) => [m.id, m.text]),
    [[id, 'after the churn']],
    'and it still delivers',
  );
});

t.test('a parked poll whose client vanishes is forgotten at once, however it leaves', async (t) => {
  const server = await forkServer(t, ['--poll-timeout', '60000']);
  const { origin, port } = server;
  const leaves: [string, (socket: Socket) => void][] = [
    ['close', (s) => s.destroy()],
    ['reset', (s) => s.resetAndDestroy()],
    ['half-close', (s) => s.end()],
  ];
  for (const [name, leave] of leaves) {
    const sockets = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const socket = await open(port);
        socket.write(get('/subscribe/vanish', i % 2 ? JSON_ACCEPT : ''));
        return socket;
      }),
    );
    await waitForWaiting(origin, 10);
    const started = Date.now();
    for (const socket of sockets) leave(socket);
    await waitForWaiting(origin, 0, 2_000);
    t.pass(`${name}: forgotten in ${Date.now() - started} ms`);
    t.equal((await stats(origin)).channels, 0, `${name}: the channel is dropped too`);
    for (const socket of sockets) socket.destroy();
  }
});

t.test('a malformed request pipelined behind an answer in progress does not corrupt it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pollcast-faults-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const size = 4_000_000;
  writeFileSync(join(dir, 'big.txt'), 'a'.repeat(size));
  writeFileSync(join(dir, 'index.html'), 'hi');
  const server = await forkServer(t, ['--public', dir]);
  const socket = await open(server.port);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.pause(); // the file backs up in the server, so its answer is under way when the garbage arrives
  socket.write(get('/big.txt'));
  await sleep(300);
  socket.write('GARBAGE\x00\r\n\r\n');
  await sleep(300);
  socket.resume();
  await new Promise((resolve) => socket.once('close', resolve));
  const reply = Buffer.concat(chunks).toString('latin1');
  const bodyStart = reply.indexOf('\r\n\r\n') + 4;
  t.match(reply, /^HTTP\/1\.1 200 /);
  const injected = reply.indexOf('HTTP/1.1 400');
  t.ok(
    injected === -1 || injected >= bodyStart + size,
    `no other answer inside the file's body (found one at byte ${injected - bodyStart} of ${size})`,
  );
});

t.test("a malformed request pipelined behind a parked poll does not take the poll's answer", async (t) => {
  const server = await forkServer(t, ['--poll-timeout', '1000']);
  const socket = await open(server.port);
  const reply = readAll(socket);
  socket.write(get('/subscribe/pipe-garbage') + 'GARBAGE\x00\r\n\r\n');
  const first = /^HTTP\/1\.1 (\d{3})/.exec(await reply)?.[1];
  t.not(first, '400', 'the valid poll is not answered with the 400 meant for the garbage behind it');
  await waitForWaiting(server.origin, 0);
});

t.test('a poll pipelined behind another poll is forgotten at once when the connection closes', async (t) => {
  const server = await forkServer(t, ['--poll-timeout', '60000']);
  const socket = await open(server.port);
  socket.write(get('/subscribe/first') + get('/subscribe/second'));
  await waitForWaiting(server.origin, 2);
  socket.destroy();
  const forgotten = await waitForWaiting(server.origin, 0, 2_000).then(
    () => true,
    () => false,
  );
  t.ok(forgotten, 'both are forgotten');
});
