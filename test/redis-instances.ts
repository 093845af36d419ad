import { spawn } from 'node:child_process';
import t from 'tap';
import WebSocket from 'ws';
import type { Batch } from '../src/protocol.js';
import { poll, publish, request, waitForWaiting } from './fixtures/http.js';
import { startRedis } from './fixtures/redis.js';
import { CLI, forkServer } from './fixtures/server.js';
import { until } from './fixtures/wait.js';

const redis = await startRedis(t);

/** `count` instances of pollcast on the test's Redis. */
function instances(t: Tap, count: number, args: string[] = []): Promise<Awaited<ReturnType<typeof forkServer>>[]> {
  return Promise.all(Array.from({ length: count }, () => forkServer(t, ['--redis', redis.url, ...args])));
}
type Tap = Parameters<typeof forkServer>[0];

function batchOf(body: string): Batch {
  return JSON.parse(body) as Batch;
}

function texts(batch: Batch): string[] {
  return batch.messages.map((message) => message.text);
}

t.test('a publish on A reaches the subscribers parked on B and C', async (t) => {
  const [a, b, c] = await instances(t, 3);
  const polls = [poll(b!.origin, undefined, 'fan'), poll(c!.origin, undefined, 'fan'), poll(c!.origin, undefined, 'fan')];
  await Promise.all([waitForWaiting(b!.origin, 1), waitForWaiting(c!.origin, 2)]);
  const id = await publish(a!.origin, 'to everyone', 'fan');
  for (const answer of await Promise.all(polls)) {
    t.equal(answer.status, 200);
    t.same(texts(batchOf(answer.body)), ['to everyone']);
    t.equal(answer.headers['pollcast-cursor'], id, 'the cursor is the id A gave');
  }
  const stats = JSON.parse((await request(c!.origin, '/stats')).body) as { waiting: number; delivered: number; storage: unknown };
  t.same(stats.storage, { kind: 'redis', up: true }, '/stats says where the history is');
  t.equal(stats.delivered, 2);
});

t.test('a client that switches instance resumes from its cursor: nothing lost or doubled', async (t) => {
  const [a, b, c] = await instances(t, 3);
  for (const text of ['m1', 'm2', 'm3']) await publish(a!.origin, text, 'switch');
  const first = await poll(b!.origin, '0', 'switch');
  t.same(texts(batchOf(first.body)), ['m1', 'm2', 'm3']);
  for (const text of ['m4', 'm5']) await publish(a!.origin, text, 'switch');
  const second = await poll(c!.origin, batchOf(first.body).cursor, 'switch');
  t.same(texts(batchOf(second.body)), ['m4', 'm5'], "C answers exactly what followed B's cursor");
  t.equal(batchOf(second.body).missed, false);
  // Plain text, one message per answer, hopping between all three.
  const seen: string[] = [];
  let cursor = '0';
  for (const origin of [a, b, c, a, b]) {
    const answer = await request(origin!.origin, `/subscribe/switch?since=${cursor}`);
    seen.push(answer.body);
    cursor = answer.headers['pollcast-cursor'] as string;
  }
  t.same(seen, ['m1', 'm2', 'm3', 'm4', 'm5']);
  const parked = request(b!.origin, `/subscribe/switch?since=${cursor}`);
  await waitForWaiting(b!.origin, 1);
  await publish(c!.origin, 'm6', 'switch');
  t.equal((await parked).body, 'm6', 'and waits on the new instance for the next');
});

t.test('an instance restarted: history survives, cursors stay valid, ids keep increasing', async (t) => {
  const [a, b] = await instances(t, 2);
  const ids = [await publish(a!.origin, 'before', 'restart')];
  t.equal(await a!.stop(), 0, 'A drains and exits 0');
  ids.push(await publish(b!.origin, 'while A is away', 'restart'));
  const [again] = await instances(t, 1);
  const all = batchOf((await poll(again!.origin, '0', 'restart')).body);
  t.same(texts(all), ['before', 'while A is away'], 'the history is all there');
  const resumed = batchOf((await poll(again!.origin, ids[0], 'restart')).body);
  t.same([texts(resumed), resumed.missed], [['while A is away'], false], 'a cursor from before the restart resumes without loss');
  ids.push(await publish(again!.origin, 'after', 'restart'));
  t.ok(ids[2]! > ids[1]! && ids[1]! > ids[0]!, `ids keep increasing: ${ids.join(' < ')}`);
});

t.test('an Idempotency-Key repeated on another instance answers the original id', async (t) => {
  const [a, b] = await instances(t, 2);
  const send = (origin: string, text: string) =>
    request(origin, '/publish/keys', { method: 'POST', headers: { 'idempotency-key': 'retry-1' }, body: text });
  const first = await send(a!.origin, 'once');
  const repeat = await send(b!.origin, 'once');
  t.equal(repeat.status, 200);
  t.equal(repeat.headers['pollcast-id'], first.headers['pollcast-id'], 'the original id');
  t.equal(repeat.headers['pollcast-repeated'], 'true');
  t.equal(first.headers['pollcast-repeated'], undefined);
  const reused = await send(b!.origin, 'something else');
  t.equal(reused.status, 422);
  t.equal(reused.headers['pollcast-error'], 'key_reused');
  t.same(texts(batchOf((await poll(b!.origin, '0', 'keys')).body)), ['once'], 'stored once');
});

t.test('cursors: missed after trimming, refused when ahead or malformed, on every transport', async (t) => {
  const [a, b] = await instances(t, 2, ['--history', '2']);
  const ids: string[] = [];
  for (const text of ['a', 'b', 'c', 'd']) ids.push(await publish(a!.origin, text, 'trim'));
  const old = batchOf((await poll(b!.origin, ids[0], 'trim')).body);
  t.same([texts(old), old.missed], [['c', 'd'], true], 'a cursor before the kept history: what is kept, and missed');
  const edge = batchOf((await poll(b!.origin, ids[1], 'trim')).body);
  t.same([texts(edge), edge.missed], [['c', 'd'], false], 'a cursor at its edge missed nothing');
  const plain = await request(b!.origin, `/subscribe/trim?since=${ids[0]}`);
  t.same([plain.body, plain.headers['pollcast-missed']], ['c', 'true']);
  t.equal(batchOf((await request(b!.origin, `/messages/trim?since=${ids[0]}`)).body).missed, true, '/messages the same');
  for (const path of ['/subscribe/trim', '/messages/trim', '/events/trim']) {
    for (const since of ['99999999999999-0', 'bogus', '01-1']) {
      const answer = await request(b!.origin, `${path}?since=${since}`);
      t.same([answer.status, answer.headers['pollcast-error']], [400, 'bad_cursor'], `${path}?since=${since}`);
    }
  }
  const empty = await poll(b!.origin, '0', 'never-used');
  t.same(batchOf(empty.body), { messages: [], missed: false, cursor: '0-0' }, 'since=0 on an empty channel: its position at once');
});

t.test('server-sent events open once the position is known, and carry what follows', async (t) => {
  const [a, b] = await instances(t, 2);
  const first = await publish(a!.origin, 'one', 'sse');
  const { hostname, port } = new URL(b!.origin);
  const { request: httpRequest } = await import('node:http');
  const received = await new Promise<string>((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path: `/events/sse?since=${first}`, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('data: two')) {
          req.destroy();
          resolve(text);
        }
      });
    });
    req.on('error', reject);
    req.end();
    void waitForWaiting(b!.origin, 1).then(() => publish(a!.origin, 'two', 'sse'));
  });
  t.match(received, new RegExp(`^retry: 2000\\nid: ${first}\\n`), 'the opening frame marks the cursor');
  t.match(received, /data: two/);
});

t.test('a WebSocket on B carries what A publishes, publishes itself, and closes 1008 on a cursor ahead', async (t) => {
  const [a, b] = await instances(t, 2);
  const frames: { type: string; text?: string; cursor?: string; id?: string }[] = [];
  const ws = new WebSocket(`${b!.origin.replace('http:', 'ws:')}/ws/wsch?since=0`);
  t.teardown(() => ws.terminate());
  ws.on('message', (data) => frames.push(JSON.parse(String(data)) as (typeof frames)[number]));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const frameCount = (count: number) =>
    until(() => frames.length >= count, `${count} frames`, 5_000, { describe: () => JSON.stringify(frames) });
  await frameCount(1);
  t.same(frames[0], { type: 'cursor', cursor: '0-0' }, 'an empty channel: its position');
  await publish(a!.origin, 'from A', 'wsch');
  ws.send(JSON.stringify({ type: 'publish', text: 'from the socket', key: 'ws-1' }));
  await frameCount(4);
  t.same(
    frames.filter((f) => f.type === 'message').map((f) => f.text),
    ['from A', 'from the socket'],
  );
  const published = frames.find((f) => f.type === 'published')!;
  const repeat = await request(a!.origin, '/publish/wsch', {
    method: 'POST',
    headers: { 'idempotency-key': 'ws-1' },
    body: 'from the socket',
  });
  t.same([repeat.headers['pollcast-id'], repeat.headers['pollcast-repeated']], [published.id, 'true'], "the socket's key holds on A");
  const ahead = new WebSocket(`${b!.origin.replace('http:', 'ws:')}/ws/wsch?since=99999999999999-0`);
  t.teardown(() => ahead.terminate());
  const code = await new Promise((resolve) => ahead.on('close', (closeCode) => resolve(closeCode)));
  t.equal(code, 1008);
});

t.test('the CLI: a bad Redis URL exits 2 with one line; an unreachable Redis exits 1 after a bounded wait', async (t) => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  for (const url of ['http://127.0.0.1:6379', 'not a url', 'redis://', 'redis://host/path']) {
    const bad = await run(['--redis', url]);
    t.equal(bad.code, 2, `${url}: exit 2`);
    t.match(bad.stderr.split('\n')[0], /^pollcast: redisUrl /, 'the first line says why');
  }
  await redis.stop({ keep: true });
  const started = Date.now();
  const unreachable = await run(['--redis', redis.url]);
  await redis.start();
  t.equal(unreachable.code, 1);
  t.match(unreachable.stderr, /^pollcast: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/? within 5 s/);
  t.ok(Date.now() - started < 15_000, 'within a bounded wait');
});
