import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import t from 'tap';
import { Outbound } from '../src/http/outbound.js';
import type { Outlet } from '../src/http/outbound.js';
import { forkServer } from './fixtures/server.js';
import { poll, publish, request, waitForWaiting } from './fixtures/http.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A connection as the budget sees it, with as many unsent bytes as the test says. */
class FakeOutlet implements Outlet {
  unsent: number;
  wasCut = false;

  constructor(unsent: number) {
    this.unsent = unsent;
  }

  cut(): void {
    this.wasCut = true;
    this.unsent = 0;
  }
}

t.test('Outbound', async (t) => {
  t.test('counts what connections hold unsent, and forgets what they flushed', async (t) => {
    const outbound = new Outbound({ totalBytes: 1000, connectionBytes: 500, writeTimeoutMs: 60_000 });
    const a = new FakeOutlet(300);
    const b = new FakeOutlet(200);
    outbound.handed(a);
    outbound.handed(b);
    t.match(outbound.stats(), { bytes: 500, connections: 2 });
    a.unsent = 0;
    outbound.flushed(a);
    t.match(outbound.stats(), { bytes: 200, connections: 1 });
    t.notOk(outbound.over(b));
    b.unsent = 501;
    t.ok(outbound.over(b), 'more than one connection may hold');
  });

  t.test('makes room by dropping the connections stuck longest, else refuses', async (t) => {
    const outbound = new Outbound({ totalBytes: 1000, connectionBytes: 1000, writeTimeoutMs: 60_000 });
    const oldest = new FakeOutlet(400);
    const newer = new FakeOutlet(400);
    outbound.handed(oldest);
    outbound.handed(newer);
    t.ok(outbound.admit(200));
    t.ok(outbound.admit(500), 'room made');
    t.ok(oldest.wasCut, 'by dropping the one waiting longest');
    t.notOk(newer.wasCut);
    t.notOk(outbound.admit(700, newer), 'a connection is never dropped to make room for itself');
    t.notOk(newer.wasCut);
    t.match(outbound.stats(), { cut: 1, refused: 1 });
  });

  t.test('drops a connection whose bytes wait longer than the write timeout', async (t) => {
    const outbound = new Outbound({ totalBytes: 1000, connectionBytes: 1000, writeTimeoutMs: 100 });
    const stuck = new FakeOutlet(10);
    const reading = new FakeOutlet(10);
    outbound.handed(stuck);
    outbound.handed(reading);
    reading.unsent = 0;
    await sleep(350);
    t.ok(stuck.wasCut);
    t.notOk(reading.wasCut);
    t.match(outbound.stats(), { bytes: 0, connections: 0, cut: 1 });
  });

  t.test('a piece taken restarts the clock', async (t) => {
    const outbound = new Outbound({ totalBytes: 1000, connectionBytes: 1000, writeTimeoutMs: 200 });
    const slow = new FakeOutlet(10);
    outbound.handed(slow);
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      outbound.flushed(slow);
    }
    t.notOk(slow.wasCut, 'still reading, piece by piece');
    await sleep(500);
    t.ok(slow.wasCut, 'then stopped');
  });
});

/** VmRSS of a process, in bytes. */
function rss(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

/** Opens a connection, sends `head`, and never reads what comes back. */
async function nonReader(t: { teardown(fn: () => void): void }, port: number, head: string | Buffer): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  socket.pause();
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(head);
  return socket;
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n${extra}\r\n`;
const upgrade = (path: string) =>
  get(path, 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n');

/** Publishes `count` messages of control characters: each escapes to six bytes of JSON, so answers are large. */
async function hoard(origin: string, channel: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await publish(origin, `${i}${'\u0001'.repeat(60_000)}`, channel));
  return ids;
}

/** Reads a raw answer after the fact: its declared length, and how many body bytes came before the connection ended. */
async function drain(socket: Socket, within: number): Promise<{ declared: number; received: number }> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  await new Promise((resolve) => {
    socket.once('close', resolve);
    setTimeout(resolve, within);
  });
  const all = Buffer.concat(chunks);
  const head = all.indexOf('\r\n\r\n');
  const declared = Number(/content-length: (\d+)/i.exec(all.subarray(0, head).toString('latin1'))?.[1] ?? -1);
  return { declared, received: all.length - head - 4 };
}

t.test('clients that never read cannot make the server hold their answers, on any transport', async (t) => {
  const server = await forkServer(t, ['--write-timeout', '600000', '--history', '10000']);
  const { origin, port } = server;
  // 48 messages, 2.9 MB of text, about 17 MB as JSON.
  const ids = await hoard(origin, 'hoard', 48);
  const before = rss(server.child.pid!);
  const sockets: Socket[] = [];
  // Each from another cursor, so no two share an answer.
  for (let i = 0; i < 20; i++) {
    const since = encodeURIComponent(ids[i]!);
    sockets.push(await nonReader(t, port, get(`/subscribe/hoard?since=${since}`)));
    sockets.push(await nonReader(t, port, get(`/messages/hoard?since=${since}`)));
    sockets.push(await nonReader(t, port, get(`/events/hoard?since=${since}`)));
    sockets.push(await nonReader(t, port, upgrade(`/ws/hoard?since=${since}`)));
  }
  await sleep(3_000);
  let peak = 0;
  for (let i = 0; i < 5; i++) {
    peak = Math.max(peak, rss(server.child.pid!));
    await sleep(200);
  }
  t.comment(`VmRSS ${(before / MiB).toFixed(0)} MiB before, ${(peak / MiB).toFixed(0)} MiB with ${sockets.length} non-readers`);
  // Default budget: 64 MiB unsent in all; here about 4 MiB of history and its encodings.
  t.ok(peak < before + 160 * MiB, `the server holds ${(peak / MiB).toFixed(0)} MiB, under ${((before + 160 * MiB) / MiB).toFixed(0)} MiB`);
  // And it still serves everyone else.
  const next = poll(origin, ids[ids.length - 1], 'hoard');
  const id = await publish(origin, 'still here', 'hoard');
  const answer = await next;
  t.equal(answer.status, 200);
  t.match(JSON.parse(answer.body), { messages: [{ id, text: 'still here' }] });
  t.equal((await request(origin, '/stats')).status, 200);
});

t.test('a long poll whose answer is not taken within --write-timeout is dropped with its socket', async (t) => {
  const { origin, port } = await forkServer(t, ['--write-timeout', '1000', '--stream-buffer', String(32 * MiB), '--history', '10000']);
  // About 22 MB as JSON: more than the kernel's socket buffers take.
  await hoard(origin, 'late', 60);
  const socket = await nonReader(t, port, get('/subscribe/late?since=0'));
  await sleep(4_000);
  const { declared, received } = await drain(socket, 10_000);
  t.ok(declared > 16 * MiB, `a large answer was started (${declared} bytes)`);
  t.ok(received < declared, `and cut after ${received} bytes`);
  t.ok(socket.destroyed || socket.readableEnded, 'the connection is closed');
});

t.test('a WebSocket client that sends junk and never reads is cut at its cap', async (t) => {
  const server = await forkServer(t, ['--write-timeout', '600000']);
  const { origin, port } = server;
  const socket = await nonReader(t, port, upgrade('/ws/junk'));
  await waitForWaiting(origin, 1);
  // A masked one-byte text frame, each answered with an error frame of about 90 bytes.
  const frame = Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0x78]);
  const burst = Buffer.concat(Array.from({ length: 10_000 }, () => frame));
  let sent = 0;
  while (sent < 3 * MiB && !socket.destroyed) {
    if (!socket.write(burst)) {
      // The server may cut us mid-write: wait for room, the end, or a while, whichever comes first.
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          socket.off('drain', done).off('close', done);
          resolve();
        };
        const timer = setTimeout(done, 2_000);
        socket.on('drain', done).on('close', done);
      });
    }
    sent += burst.length;
  }
  await waitForWaiting(origin, 0, 20_000);
  t.pass(`cut after ${sent} bytes of junk`);
  t.equal((await request(origin, '/stats')).status, 200);
});

t.test('an answer larger than the whole outbound budget is refused with 503 too_busy, and the server carries on', async (t) => {
  const { origin } = await forkServer(t, ['--stream-buffer', '4096', '--outbound-bytes', '4096']);
  await publish(origin, 'x'.repeat(10_000), 'huge');
  const refused = await poll(origin, '0', 'huge');
  t.equal(refused.status, 503);
  t.equal(refused.headers['pollcast-error'], 'too_busy');
  t.equal(refused.headers['retry-after'], '1');
  const id = await publish(origin, 'small', 'other');
  t.match(JSON.parse((await poll(origin, '0', 'other')).body), { messages: [{ id, text: 'small' }] });
  t.match(JSON.parse((await request(origin, '/stats')).body), { outbound: { refused: 1 } });
});
