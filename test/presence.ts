import t from 'tap';
import type { Test } from 'tap';
import WebSocket from 'ws';
import { LocalPresence } from '../src/presence.js';
import { forkServer } from './fixtures/server.js';
import { request } from './fixtures/http.js';
import { redisCommand, startRedis } from './fixtures/redis.js';
import { mint, SECRET } from './fixtures/tokens.js';

const azin = { name: 'Azin', verified: false };
const bo = { name: 'Bo', verified: false };

t.test('LocalPresence: a stream is here while held, a poll until its time, each author once, within the budget', async (t) => {
  const presence = new LocalPresence(2);
  const leaveA = presence.hold('room', azin);
  const leaveA2 = presence.hold('room', azin);
  // Bo's poll is listed for half a second: long enough for the synchronous checks below, on any load.
  presence.touch('room', bo, Date.now() + 500);
  t.same(presence.here('room').here, [azin, bo], 'two connections of one author list it once');
  t.same(presence.here('lobby').here, [], 'per channel');
  presence.touch('lobby', { name: 'Cy', verified: false }, Date.now() + 10_000);
  t.same(presence.here('lobby').here, [], 'over the budget: served, not listed');
  t.equal(presence.stats().dropped, 1);
  leaveA();
  t.same(presence.here('room').here, [azin, bo], 'still held by its other connection');
  leaveA2();
  leaveA2();
  await new Promise((resolve) => setTimeout(resolve, 600));
  t.same(presence.here('room').here, [], 'the stream left; the poll expired');
  t.equal(presence.stats().entries, 0, 'and nothing is held for them');
});

async function here(origin: string, channel: string, headers: Record<string, string> = {}): Promise<unknown[]> {
  const answer = await request(origin, `/presence/${channel}`, { headers });
  if (answer.status !== 200) throw new Error(`presence answered ${answer.status}: ${answer.body}`);
  return (JSON.parse(answer.body) as { here: unknown[] }).here;
}

async function eventually(t: Test, probe: () => Promise<unknown>, expected: unknown, message: string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    last = await probe();
    if (JSON.stringify(last) === JSON.stringify(expected)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.same(last, expected, message);
}

function openSocket(t: Test, url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  t.teardown(() => ws.terminate());
  return new Promise((resolve, reject) => ws.once('open', () => resolve(ws)).once('error', reject));
}

t.test('GET /presence lists the subscribers of every transport, and drops each as it leaves', async (t) => {
  const { origin } = await forkServer(t, ['--poll-timeout', '300']);
  const ws = await openSocket(t, `${origin.replace('http', 'ws')}/ws/room?name=Azin`);
  const controller = new AbortController();
  const stream = await fetch(`${origin}/events/room?name=Bo`, { signal: controller.signal });
  t.equal(stream.status, 200);
  await request(origin, '/messages/room?name=Cy');
  await eventually(t, () => here(origin, 'room'), [azin, bo, { name: 'Cy', verified: false }], 'a WebSocket, an event stream and a poller');
  t.same(await here(origin, 'other'), [], 'per channel');
  ws.close();
  controller.abort();
  // The poller does not come back: gone after its poll timeout (300 ms) and the grace (1 s).
  await eventually(t, () => here(origin, 'room'), [], 'each leaves: the streams at once, the poller after a timeout and a grace');
  const longPoll = request(origin, '/subscribe/room?name=Dee');
  await eventually(t, () => here(origin, 'room'), [{ name: 'Dee', verified: false }], 'a held long poll counts');
  await longPoll;
});

t.test('presence needs the right to subscribe, and lists verified authors by id', async (t) => {
  const { origin } = await forkServer(t, ['--jwt-secret', SECRET]);
  const token = await mint({ sub: 'u1', name: 'Azin', subscribe: ['room'] });
  const controller = new AbortController();
  t.teardown(() => controller.abort());
  await fetch(`${origin}/events/room?access_token=${token}&name=Mallory`, { signal: controller.signal });
  await eventually(
    t,
    () => here(origin, 'room', { authorization: `Bearer ${token}` }),
    [{ id: 'u1', name: 'Azin', verified: true }],
    "the token's identity, not the declared name",
  );
  t.equal((await request(origin, '/presence/room')).status, 401);
  t.equal((await request(origin, '/presence/lobby', { headers: { authorization: `Bearer ${token}` } })).status, 403);
});

t.test('on Redis, presence spans the instances, and its entries carry their own expiry', async (t) => {
  const redis = await startRedis(t);
  const url = `redis://127.0.0.1:${redis.port}`;
  const a = await forkServer(t, ['--redis', url]);
  const b = await forkServer(t, ['--redis', url]);
  const ws = await openSocket(t, `${a.origin.replace('http', 'ws')}/ws/room?name=Azin`);
  await eventually(t, () => here(b.origin, 'room'), [azin], 'a subscriber of one instance is listed by the other');
  // RESP: *2, $n, member, $n, score.
  const score = Number((await redisCommand(redis.port, ['ZRANGE', 'pollcast:{room}:presence', '0', '-1', 'WITHSCORES'])).split('\r\n')[4]);
  t.ok(
    score > Date.now() && score <= Date.now() + 16_000,
    'scored by when it expires unless renewed (an instance that dies stops renewing)',
  );
  t.ok(Number((await redisCommand(redis.port, ['PTTL', 'pollcast:{room}:presence'])).slice(1)) > 0, 'and the set itself expires');
  ws.close();
  await eventually(t, () => here(b.origin, 'room'), [], 'gone from every instance when it leaves');

  await openSocket(t, `${a.origin.replace('http', 'ws')}/ws/room?name=Bo`);
  await eventually(t, () => here(b.origin, 'room'), [bo], 'listed again');
  a.child.kill('SIGKILL');
  const killed = Date.now();
  await eventually(
    t,
    () => here(b.origin, 'room'),
    [],
    'an instance that dies without a word: its subscribers expire on their own',
    25_000,
  );
  t.ok(Date.now() - killed >= 5_000, 'by their expiry, not by a goodbye');
});
