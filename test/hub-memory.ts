/**
 * The memory a client can make the hubs hold, measured where it is real: the
 * forked server's resident set (`VmRSS` from the kernel) and whether it
 * survives a capped heap, never the hub's own counters.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import t from 'tap';
import type { Batch } from '../src/protocol.js';
import { forkServer } from './fixtures/server.js';
import type { Forked } from './fixtures/server.js';
import { poll, publish, request } from './fixtures/http.js';
import { startRedis } from './fixtures/redis.js';
import { until } from './fixtures/wait.js';

const MiB = 1024 * 1024;

/** The child's resident set in bytes, as the kernel counts it. */
function rss(server: Forked): number {
  const status = readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) * 1024;
}

/**
 * A message of control characters: each escapes to six bytes in JSON, the
 * worst case for any encoding a cache could hold.
 */
const ESCAPED = '\x01'.repeat(64 * 1024);

/** Publishes `count` messages on `channel`; resolves with their ids. */
async function publishMany(origin: string, channel: string, text: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await publish(origin, text, channel));
  return ids;
}

/**
 * `count` keyed publishes of one byte each, pipelined on one connection (a
 * request a millisecond would take minutes) a thousand at a time, spread over `channels`
 * channels; resolves with the statuses.
 */
function pipelinedPublishes(origin: string, count: number, channels: number, key: (i: number) => string): Promise<number[]> {
  const { hostname, port } = new URL(origin);
  const socket = connect(Number(port), hostname);
  const statuses: number[] = [];
  let tail = '';
  const answered = new Promise<number[]>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      for (const match of text.matchAll(/HTTP\/1\.1 (\d{3}) /g)) statuses.push(Number(match[1]));
      // A status line cut between two chunks is matched with the next one.
      tail = text.slice(text.lastIndexOf('\r\n') + 2).slice(-16);
      if (statuses.length >= count) {
        socket.end();
        resolve(statuses);
      }
    });
    socket.on('close', () =>
      statuses.length < count ? reject(new Error(`the server closed after ${statuses.length} answers`)) : undefined,
    );
    socket.on('error', reject);
  });
  void (async () => {
    for (let i = 0; i < count && !socket.destroyed; i += 1000) {
      let requests = '';
      for (let j = i; j < Math.min(count, i + 1000); j++) {
        requests += `POST /publish/k${j % channels} HTTP/1.1\r\nhost: x\r\nidempotency-key: ${key(j)}\r\ncontent-length: 1\r\n\r\nx`;
      }
      if (!socket.write(requests)) await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
      // At most two batches in flight: what is measured is the history the server keeps, not the requests it has yet to read.
      const through = i;
      await until(() => statuses.length >= through || socket.destroyed, `answers through ${through}`, 60_000, { every: 5 });
    }
  })();
  return answered;
}

t.test('distinct cursors cannot make a small history cost its encoding once per cursor', async (t) => {
  const server = await forkServer(t, ['--history-bytes', String(2 * MiB), '--poll-timeout', '1000']);
  const { origin } = server;
  // 64 messages of 64 KiB into a budget of 2 MiB: the first half is evicted, so every cursor
  // among them is answered with the whole history (12 MiB as JSON), each from its own position.
  const ids = await publishMany(origin, 'big', ESCAPED, 64);
  const run = ids[0]!.split('-')[0]!;
  const before = rss(server);
  for (let seq = 1; seq <= 15; seq++) {
    const answer = await request(origin, `/messages/big?since=${run}-${seq}`);
    t.equal((JSON.parse(answer.body) as Batch).missed, true);
  }
  for (let seq = 16; seq <= 30; seq++) {
    const answer = await poll(origin, `${run}-${seq}`, 'big');
    t.equal((JSON.parse(answer.body) as Batch).missed, true);
  }
  const grown = rss(server) - before;
  t.ok(grown < 128 * MiB, `30 distinct cursors grew the resident set by ${(grown / MiB).toFixed(0)} MiB (at most 128)`);
  const last = await poll(origin, ids.at(-2), 'big');
  t.same(
    (JSON.parse(last.body) as Batch).messages.map((m) => m.id),
    [ids.at(-1)],
    'and the channel still answers',
  );
});

t.test('keyed publishes of one byte with long keys are charged at their cost: a capped heap survives them', async (t) => {
  // 24 MB for the old generation: counting text alone let some 20 000 keyed publishes of one byte fill 16 MB, so
  // 45 000 overflow it. The 2 MiB budget leaves the rest to the runtime, the logger, the metrics and answers on their way out.
  const server = await forkServer(t, ['--history-bytes', String(2 * MiB)], { NODE_OPTIONS: '--max-old-space-size=24' });
  const { origin } = server;
  const first = await request(origin, '/publish/k0', {
    method: 'POST',
    body: 'x',
    headers: { accept: 'application/json', 'idempotency-key': 'first' },
  });
  const firstId = (JSON.parse(first.body) as { id: string }).id;
  const count = 45_000;
  const statuses = await pipelinedPublishes(origin, count, 200, (i) => `${'k'.repeat(120)}${String(i).padStart(8, '0')}`);
  t.equal(statuses.filter((status) => status === 200).length, count, 'every publish was accepted');
  t.equal(server.child.exitCode, null, 'the server is alive');
  const stats = JSON.parse((await request(origin, '/stats')).body) as { published: number; bytes: number };
  t.equal(stats.published, count + 1);
  t.ok(stats.bytes <= 2 * MiB, 'what history holds is within its budget');
  const resumed = JSON.parse((await poll(origin, firstId, 'k0')).body) as Batch;
  t.equal(resumed.missed, true, 'the oldest messages were evicted, and a client resuming before them is told');
});

t.test('--redis: distinct cursors behind a watched channel cannot make it hold an encoding per cursor', async (t) => {
  const redis = await startRedis(t);
  // Answers here are whole histories (some 12 MiB of JSON): the per-connection share of the outbound budget must let them through.
  const server = await forkServer(t, [
    '--redis',
    redis.url,
    '--history-bytes',
    String(2 * MiB),
    '--poll-timeout',
    '5000',
    '--stream-buffer',
    String(16 * MiB),
  ]);
  const { origin } = server;
  // A parked poll makes the instance watch the channel: what follows is read into its memory.
  const watching = poll(origin, undefined, 'big');
  await until(async () => (JSON.parse((await request(origin, '/stats')).body) as { waiting: number }).waiting === 1, 'one poll parked');
  const ids = await publishMany(origin, 'big', ESCAPED, 33);
  await watching;
  // The reader has caught up once a poll at the newest id parks instead of being answered.
  const newest = poll(origin, ids.at(-1), 'big');
  await until(async () => (JSON.parse((await request(origin, '/stats')).body) as { waiting: number }).waiting === 1, 'one poll parked');
  const before = rss(server);
  for (const id of ids.slice(0, 32)) {
    const answer = JSON.parse((await poll(origin, id, 'big')).body) as Batch;
    t.equal(answer.messages.at(-1)?.id, ids.at(-1));
  }
  const grown = rss(server) - before;
  t.ok(grown < 128 * MiB, `32 distinct cursors grew the resident set by ${(grown / MiB).toFixed(0)} MiB (at most 128)`);
  await publish(origin, 'end', 'big');
  await newest;
});
