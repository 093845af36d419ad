import t from 'tap';
import type { Batch } from '../src/protocol.js';
import { poll, publish, request, waitForWaiting } from './fixtures/http.js';
import type { Answer } from './fixtures/http.js';
import { startRedis } from './fixtures/redis.js';
import { forkServer } from './fixtures/server.js';
import { until } from './fixtures/wait.js';

async function storageUp(origin: string): Promise<boolean> {
  const stats = JSON.parse((await request(origin, '/stats')).body) as { storage: { kind: string; up: boolean } };
  return stats.storage.up;
}

/** Polls `/stats` until the storage is `up` (or not); bounded at 10 s. */
function waitForStorage(origin: string, up: boolean): Promise<true> {
  return until(async () => (await storageUp(origin)) === up, `storage ${up ? 'up' : 'down'}`, 10_000, { every: 50 });
}

function texts(answer: Answer): string[] {
  return (JSON.parse(answer.body) as Batch).messages.map((message) => message.text);
}

t.test('Redis stopped and restarted mid-stream: 503 meanwhile, then everyone recovers and nothing acknowledged is lost', async (t) => {
  const redis = await startRedis(t);
  const [a, b] = await Promise.all([0, 1].map(() => forkServer(t, ['--redis', redis.url, '--poll-timeout', '20000'])));
  const acknowledged = [await publish(a!.origin, 'before', 'outage')];
  const parked = poll(b!.origin, acknowledged[0], 'outage');
  await waitForWaiting(b!.origin, 1);

  await redis.stop({ keep: true });
  await waitForStorage(a!.origin, false);
  const refused = await request(a!.origin, '/publish/outage', { method: 'POST', body: 'during' });
  t.same(
    [refused.status, refused.headers['pollcast-error']],
    [503, 'storage_unavailable'],
    'a publish during the outage is refused, not acknowledged',
  );
  t.ok(Number(refused.headers['retry-after']) > 0, 'with Retry-After');
  const newcomer = await poll(b!.origin, '0', 'outage');
  t.same(
    [newcomer.status, newcomer.headers['pollcast-error']],
    [503, 'storage_unavailable'],
    'a poll that needs the history gets a retryable 503, not a hang',
  );
  t.ok(Number(newcomer.headers['retry-after']) > 0);
  const elsewhere = await poll(a!.origin, acknowledged[0], 'outage');
  t.equal(elsewhere.status, 503, 'so does one on an instance that does not hold the channel');
  t.equal((await request(b!.origin, '/messages/outage?since=0')).status, 503, '/messages too');
  const resumed = poll(b!.origin, acknowledged[0], 'outage');
  await waitForWaiting(b!.origin, 2);
  t.has(
    JSON.parse((await request(b!.origin, '/stats')).body),
    { storage: { kind: 'redis', up: false }, waiting: 2 },
    '/stats says so; the parked poll stays parked, and one resuming where B stands parks too',
  );

  await redis.start();
  await Promise.all([waitForStorage(a!.origin, true), waitForStorage(b!.origin, true)]);
  acknowledged.push(await publish(a!.origin, 'after', 'outage'));
  for (const woken of await Promise.all([parked, resumed])) {
    t.same([woken.status, texts(woken)], [200, ['after']], 'the polls parked through the outage get what followed');
  }
  const all = await poll(b!.origin, '0', 'outage');
  t.same(texts(all), ['before', 'after'], 'everything acknowledged is there, and nothing else');
  t.equal(await b!.stop(), 0, 'shutdown still drains and exits 0');
});

t.test('shutdown while Redis is away still exits 0 promptly', async (t) => {
  const redis = await startRedis(t);
  const server = await forkServer(t, ['--redis', redis.url]);
  const parked = poll(server.origin, undefined, 'away');
  await waitForWaiting(server.origin, 1);
  await redis.stop();
  await waitForStorage(server.origin, false);
  const started = Date.now();
  t.equal(await server.stop(), 0);
  t.ok(Date.now() - started < 4_000, `exited in ${Date.now() - started} ms`);
  t.equal((await parked).status, 503, 'the parked poll was answered shutting_down');
});
