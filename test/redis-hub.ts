import t from 'tap';
import type { Test } from 'tap';
import { HubClosedError, HubFullError, InvalidCursorError, KeyReusedError, StorageUnavailableError } from '../src/hub.js';
import { interpret, RedisHub } from '../src/redis/hub.js';
import { compareStreamIds, streamIdOf } from '../src/redis/stream-id.js';
import type { RedisHubOptions } from '../src/redis/hub.js';
import { Probe } from './fixtures/probe.js';
import { startRedis } from './fixtures/redis.js';
import { until } from './fixtures/wait.js';

const redis = await startRedis(t);

/** A hub on the test's Redis, opened, and closed at teardown. */
async function openHub(t: Test, options: Partial<RedisHubOptions> = {}): Promise<RedisHub> {
  const hub = new RedisHub({ url: redis.url, ...options });
  t.teardown(() => hub.close());
  await hub.open();
  return hub;
}

/** A channel name of its own for each test, so that tests share the Redis but not their data. */
let channels = 0;
const fresh = () => `ch${++channels}`;

t.test("interpret(): the in-memory hub's cursor rules over one read of a stream", async (t) => {
  const state = {
    epoch: 'e1',
    last: '5-0',
    dropped: '2-0',
    now: 5,
    entries: [
      { id: '4-0', text: 'd' },
      { id: '5-0', text: 'e' },
    ],
  };
  const at = (id: string, epoch = 'e1') => ({ epoch, id });
  t.same(
    interpret(state, 'oldest'),
    {
      batch: {
        messages: [
          { id: 'e1:4-0', text: 'd', time: 4 },
          { id: 'e1:5-0', text: 'e', time: 5 },
        ],
        missed: false,
        cursor: 'e1:5-0',
      },
      epoch: 'e1',
      at: '0-0',
    },
    'since=0: what is kept, never missed',
  );
  t.same(
    interpret({ epoch: '', last: '0-0', dropped: '0-0', now: 5, entries: [] }, 'oldest'),
    { batch: { messages: [], missed: false, cursor: '0-0' }, epoch: '', at: '0-0' },
    'since=0 on nothing: an empty batch with the position',
  );
  t.same(interpret({ ...state, entries: [] }, 'none'), { epoch: 'e1', at: '5-0' }, 'no cursor: wait from the newest');
  t.equal(interpret(state, at('1-0')).batch?.missed, true, 'before the trimmed part: missed');
  t.equal(interpret(state, at('2-0')).batch?.missed, false, 'at the edge of the trimmed part: nothing missed');
  t.same(interpret({ ...state, entries: [] }, at('5-0')), { epoch: 'e1', at: '5-0' }, 'at the newest: wait');
  t.throws(() => interpret(state, at('6-0')), InvalidCursorError, "ahead of the stream and of Redis's clock: refused");
  t.same(
    interpret({ ...state, entries: [] }, at('5-1')),
    { batch: { messages: [], missed: true, cursor: 'e1:5-0' }, epoch: 'e1', at: '5-0' },
    'ahead of the stream but not of the clock (its newest entries lost in place): missed, from where it stands',
  );
  t.same(
    interpret(state, at('9-0', 'e0')).batch,
    {
      messages: [
        { id: 'e1:4-0', text: 'd', time: 4 },
        { id: 'e1:5-0', text: 'e', time: 5 },
      ],
      missed: true,
      cursor: 'e1:5-0',
    },
    'another epoch: what is kept, and missed, even from further on',
  );
  t.same(
    interpret({ epoch: '', last: '0-0', dropped: '0-0', now: 5, entries: [] }, at('9-0', 'e0')),
    { batch: { messages: [], missed: true, cursor: '0-0' }, epoch: '', at: '0-0' },
    'a stream that is gone: missed, from where the channel stands',
  );
  t.equal(interpret(state, at('2-0', '')).batch?.missed, false, 'a bare id is taken in the epoch there is');
  t.same(
    interpret({ epoch: 'e1', last: '1-0', dropped: '0-0', now: 5, entries: [{ id: '1-0', text: 'a' }] }, at('0-0', '')).batch,
    { messages: [{ id: 'e1:1-0', text: 'a', time: 1 }], missed: false, cursor: 'e1:1-0' },
    "an empty channel's position: the stream made since, whole",
  );
});

t.test('a publish on one instance wakes the waiters of another, one batch for all', async (t) => {
  const [a, b] = [await openHub(t), await openHub(t)];
  const channel = fresh();
  const first = new Probe();
  const second = new Probe();
  const subscription = b.subscribe(channel, undefined, first);
  t.equal(subscription.cursor, undefined, 'the position is not known before Redis answered');
  b.subscribe(channel, undefined, second);
  await until(() => b.stats().waiting === 2);
  t.equal(first.starts, 1, 'started() once the wait was in place');
  t.equal(subscription.cursor, '0-0', 'a channel without a stream has no epoch yet');
  const { message } = await a.publish(channel, 'hello');
  await Promise.all([first.answered(), second.answered()]);
  t.same(first.texts, ['hello']);
  t.equal(first.batches[0], second.batches[0], 'one batch object serves every waiter');
  t.equal(first.batches[0]!.cursor, message.id);
  t.match(message.id, /^[0-9a-f]{12}:\d+-\d+$/, "the id is the stream's epoch and the stream id");
  t.same(
    { published: a.stats().published, delivered: b.stats().delivered, waiting: b.stats().waiting },
    { published: 1, delivered: 2, waiting: 0 },
  );
  t.same(b.stats().storage, { kind: 'redis', up: true });
});

t.test('since=0 answers at once but never inside subscribe(), started() first', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  const empty = new Probe();
  hub.subscribe(channel, '0', empty);
  t.same(empty.batches, [], 'nothing inside subscribe()');
  await empty.answered();
  t.same(empty.batches, [{ messages: [], missed: false, cursor: '0-0' }], 'an empty channel: an empty batch with its position');
  t.equal(empty.starts, 1);
  await hub.publish(channel, 'one');
  await hub.publish(channel, 'two');
  const all = new Probe();
  hub.subscribe(channel, '0', all);
  await all.answered();
  t.same(all.texts, ['one', 'two']);
});

t.test('trimmed history: what is kept, and missed only for a cursor before the trimmed part', async (t) => {
  const hub = await openHub(t, { historyLimit: 2 });
  const channel = fresh();
  const ids: string[] = [];
  for (const text of ['a', 'b', 'c', 'd']) ids.push((await hub.publish(channel, text)).message.id);
  const cases: [string, string[], boolean][] = [
    [ids[0]!, ['c', 'd'], true],
    [ids[1]!, ['c', 'd'], false],
    ['0', ['c', 'd'], false],
    [ids[2]!, ['d'], false],
  ];
  for (const [since, texts, missed] of cases) {
    const probe = new Probe();
    hub.subscribe(channel, since, probe);
    await probe.answered();
    t.same(probe.texts, texts, `from ${since}`);
    t.equal(probe.batches[0]!.missed, missed, `from ${since}: missed ${missed}`);
  }
  t.same((await hub.read(channel, ids[0])).missed, true, 'read() says the same');
  t.equal(await redis.command('XLEN', `pollcast:{${channel}}`), ':2\r\n', 'the stream holds exactly the history');
});

t.test('a malformed cursor throws at once; one ahead of the channel fails the waiter', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  await hub.publish(channel, 'x');
  t.throws(() => hub.subscribe(channel, 'mwr8vx37ca52c4-1', new Probe()), InvalidCursorError);
  t.throws(() => hub.subscribe(channel, '01-0', new Probe()), InvalidCursorError);
  for (const malformed of [':1-0', 'E1:1-0', 'e1:01-0', 'e1:', 'e1:1-0:2', 'e1-1-0', `${'e'.repeat(33)}:1-0`]) {
    t.throws(() => hub.subscribe(channel, malformed, new Probe()), InvalidCursorError, malformed);
  }
  const epoch = (await hub.read(channel, '0')).cursor.split(':')[0]!;
  const aheadInEpoch = new Probe();
  hub.subscribe(channel, `${epoch}:99999999999999-0`, aheadInEpoch);
  await aheadInEpoch.answered();
  t.type(aheadInEpoch.failures[0], InvalidCursorError, "ahead within the stream's own epoch: refused");
  const ahead = new Probe();
  hub.subscribe(channel, '99999999999999-0', ahead);
  await ahead.answered();
  t.type(ahead.failures[0], InvalidCursorError);
  t.equal(ahead.starts, 0, 'never started');
  await t.rejects(hub.read(channel, '99999999999999-0'), InvalidCursorError);
  t.equal(hub.stats().waiting, 0);
});

t.test('entries trimmed before the reader read them: its waiters are told missed, and memory claims nothing across the gap', async (t) => {
  const [a, b] = [await openHub(t, { historyLimit: 2 }), await openHub(t, { historyLimit: 2 })];
  const channel = fresh();
  const { message: before } = await a.publish(channel, 'before');
  const parked = new Probe();
  b.subscribe(channel, before.id, parked);
  await until(() => b.stats().waiting === 1);
  // Cutting b's reader off holds its next read back for a few hundred ms (reconnection, then a pause), as a stall would.
  const readers = (await redis.command('CLIENT', 'LIST')).split('\n').filter((line) => line.includes('name=pollcast-reader'));
  const newest = Math.max(...readers.map((line) => Number(/\bid=(\d+)/.exec(line)![1])));
  await redis.command('CLIENT', 'KILL', 'ID', String(newest)); // b's, opened last
  const ids: string[] = [];
  for (const text of ['m1', 'm2', 'm3', 'm4', 'm5']) ids.push((await a.publish(channel, text)).message.id);
  await parked.answered();
  t.same([parked.texts, parked.batches[0]!.missed], [['m4', 'm5'], true], 'the parked waiter gets what is left, and missed');
  const acrossTheGap = new Probe();
  b.subscribe(channel, ids[0], acrossTheGap);
  await acrossTheGap.answered();
  t.same(
    [acrossTheGap.texts, acrossTheGap.batches[0]!.missed],
    [['m4', 'm5'], true],
    'a cursor before the gap is not answered as if memory were continuous',
  );
  const atTheEdge = new Probe();
  t.equal(b.subscribe(channel, ids[2], atTheEdge).cursor, ids[2], 'the entry before the first one read: answered from memory');
  await atTheEdge.answered();
  t.same([atTheEdge.texts, atTheEdge.batches[0]!.missed], [['m4', 'm5'], false], 'and nothing was missed after it');
});

t.test('a stream Redis lost: old cursors are missed, not refused; waiters and memory start over', async (t) => {
  const [a, b] = [await openHub(t), await openHub(t)];
  const channel = fresh();
  const { message: first } = await a.publish(channel, 'before');
  const parked = new Probe();
  b.subscribe(channel, first.id, parked);
  await until(() => b.stats().waiting === 1);
  await redis.command('FLUSHALL');
  const gone = await a.read(channel, first.id);
  t.same(gone, { messages: [], missed: true, cursor: '0-0' }, 'the stream is gone: missed, from where the channel stands');
  const { message: after } = await a.publish(channel, 'after');
  t.not(after.id.split(':')[0], first.id.split(':')[0], 'the stream made again has an epoch of its own');
  await parked.answered();
  t.same([parked.texts, parked.batches[0]!.missed], [['after'], true], 'a waiter parked before the loss is told');
  for (const hub of [a, b]) {
    const resumed = new Probe();
    hub.subscribe(channel, first.id, resumed);
    await resumed.answered();
    t.same(
      [resumed.texts, resumed.batches[0]!.missed, resumed.failures],
      [['after'], true, []],
      'a cursor of the lost stream: everything kept now, and missed',
    );
  }
  t.same(await b.read(channel, after.id), { messages: [], missed: false, cursor: after.id }, 'the new cursors hold');
});

t.test('a watch that outlived its stream starts over when Redis says so, and tells its waiters', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  const { message } = await hub.publish(channel, 'kept until the flush');
  const parked = new Probe();
  hub.subscribe(channel, message.id, parked);
  await until(() => hub.stats().waiting === 1);
  await redis.command('FLUSHALL');
  const next = new Probe();
  hub.subscribe(channel, '0-0', next);
  await parked.answered();
  t.same(parked.batches, [{ messages: [], missed: true, cursor: '0-0' }], 'the parked waiter learns that what followed its cursor is gone');
  await until(() => hub.stats().waiting === 1);
  const { message: fresh1 } = await hub.publish(channel, 'first of the new stream');
  await next.answered();
  t.same(
    [next.texts, next.batches[0]!.missed, next.batches[0]!.cursor],
    [['first of the new stream'], false, fresh1.id],
    "a waiter from an empty channel's position waits in the new stream",
  );
});

t.test('a stream that lost its newest entries in place: a cursor among them is missed, not refused', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  const { message: kept } = await hub.publish(channel, 'kept');
  const { message: lost } = await hub.publish(channel, 'lost');
  // What a replica promoted before it had the newest entry holds: the stream, without its tail.
  await redis.command('XDEL', `pollcast:{${channel}}`, lost.id.split(':')[1]!);
  t.same(await hub.read(channel, lost.id), { messages: [], missed: true, cursor: kept.id }, 'read()');
  const probe = new Probe();
  hub.subscribe(channel, lost.id, probe);
  await probe.answered();
  t.same(probe.batches, [{ messages: [], missed: true, cursor: kept.id }], 'subscribe(): missed, from where the stream stands');
  const { message: next } = await hub.publish(channel, 'next');
  t.same(
    (await hub.read(channel, kept.id)).messages.map((m) => m.id),
    [next.id],
    'and it carries on from there',
  );
});

t.test('idempotency keys hold across instances', async (t) => {
  const [a, b] = [await openHub(t), await openHub(t)];
  const channel = fresh();
  const original = await a.publish(channel, 'once', 'key-1');
  const repeat = await b.publish(channel, 'once', 'key-1');
  t.equal(repeat.repeated, true);
  t.equal(repeat.message.id, original.message.id, 'the original id');
  t.equal(repeat.message.time, original.message.time);
  await t.rejects(b.publish(channel, 'another text', 'key-1'), KeyReusedError);
  t.equal((await b.read(channel, '0')).messages.length, 1, 'stored once');
  t.equal((await a.publish(fresh(), 'once', 'key-1')).repeated, false, 'keys belong to their channel');
});

t.test('keys are remembered for as many keyed publishes as the history holds', async (t) => {
  const hub = await openHub(t, { historyLimit: 2 });
  const channel = fresh();
  for (const key of ['k1', 'k2', 'k3']) await hub.publish(channel, key, key);
  t.equal((await hub.publish(channel, 'k3', 'k3')).repeated, true);
  t.equal((await hub.publish(channel, 'k1', 'k1')).repeated, false, 'the oldest key was forgotten');
  t.equal(await redis.command('HLEN', `pollcast:{${channel}}:keys`), ':2\r\n', 'the keys stay bounded');
});

t.test('a waiter behind the watched position is answered from memory, the same as from Redis', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  const { message: before } = await hub.publish(channel, 'before');
  const first = new Probe();
  hub.subscribe(channel, before.id, first);
  await until(() => hub.stats().waiting === 1);
  const { message: one } = await hub.publish(channel, 'one');
  await first.answered();
  const second = new Probe();
  const parked = hub.subscribe(channel, one.id, second);
  t.equal(parked.cursor, one.id, 'at the watched position: parked at once, no Redis round trip');
  await hub.publish(channel, 'two');
  await second.answered();
  const late = new Probe();
  const subscription = hub.subscribe(channel, before.id, late);
  t.equal(subscription.cursor, before.id, 'behind it: answered from memory, so the cursor is known at once');
  t.same(late.batches, [], 'but not inside subscribe()');
  await late.answered();
  t.same(late.texts, ['one', 'two']);
  t.equal(late.starts, 0, 'no started(): the cursor was known when subscribe() returned');
  const fromRedis = new Probe();
  hub.subscribe(channel, '0', fromRedis);
  await fromRedis.answered();
  t.same(fromRedis.texts, ['before', 'one', 'two'], 'since=0 from Redis');
});

t.test('publishes in flight together are stored once each; a key repeated among them answers with the first', async (t) => {
  const [a, b] = [await openHub(t), await openHub(t)];
  const channel = fresh();
  const probe = new Probe();
  b.subscribe(channel, undefined, probe);
  await until(() => b.stats().waiting === 1);
  // Sent in one turn, so they leave together; every fifth repeats the one before it, key and text.
  const sent = Array.from({ length: 40 }, (_, i) => (i % 5 === 4 ? i - 1 : i));
  const results = await Promise.all(sent.map((n) => a.publish(channel, `m${n}`, `k${n}`)));
  const stored = results.filter((result) => !result.repeated);
  t.equal(stored.length, 32, 'each new key stored once');
  t.equal(new Set(stored.map((result) => result.message.id)).size, 32);
  for (const [i, n] of sent.entries()) {
    if (i % 5 === 4) t.equal(results[i]!.message.id, results[i - 1]!.message.id, `m${n} again: the id of its first publish`);
  }
  t.equal(a.stats().published, 32);
  await probe.answered();
  const all = await b.read(channel, '0');
  const expected = [...new Set(sent)].map((n) => `m${n}`);
  t.same([...all.messages.map((m) => m.text)].sort(), [...expected].sort(), 'the stream holds each once');
  t.same(
    all.messages.map((m) => m.id),
    stored.map((result) => result.message.id).sort((x, y) => compareStreamIds(streamIdOf(x), streamIdOf(y))),
    'with the ids their publishes were given',
  );
});

t.test('the script cache flushed under a running hub: its next publishes and reads load the scripts again', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  await hub.publish(channel, 'before');
  t.match(await redis.command('SCRIPT', 'FLUSH'), /OK/);
  const results = await Promise.all(['one', 'two', 'three'].map((text) => hub.publish(channel, text)));
  t.same(
    results.map((result) => result.repeated),
    [false, false, false],
  );
  await redis.command('SCRIPT', 'FLUSH');
  const batch = await hub.read(channel, '0');
  t.same(batch.messages.map((m) => m.text).sort(), ['before', 'one', 'three', 'two']);
});

t.test('a poll resuming at the head parks with the full cursor, whichever form its cursor had', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  const { message } = await hub.publish(channel, 'one');
  const first = new Probe();
  hub.subscribe(channel, message.id, first);
  await until(() => hub.stats().waiting === 1);
  const bare = new Probe();
  const parked = hub.subscribe(channel, streamIdOf(message.id), bare);
  t.equal(parked.cursor, message.id, 'a bare id of the head: parked at once, with its epoch');
  const next = hub.subscribe(channel, undefined, new Probe());
  t.equal(next.cursor, message.id, 'no cursor: parked at the head');
  t.equal(hub.stats().waiting, 3);
  const { message: two } = await hub.publish(channel, 'two');
  await Promise.all([first.answered(), bare.answered()]);
  t.equal(first.batches[0], bare.batches[0], 'one batch for both');
  t.same(bare.texts, ['two']);
  t.equal(bare.batches[0]!.cursor, two.id);
});

t.test('a poll coming back late to the position the last read left shares the batch the parked ones got', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  const { message: start } = await hub.publish(channel, 'start');
  const parked = new Probe();
  hub.subscribe(channel, start.id, parked);
  await until(() => hub.stats().waiting === 1);
  await hub.publish(channel, 'one');
  await parked.answered();
  const late = new Probe();
  hub.subscribe(channel, start.id, late);
  await late.answered();
  t.same(late.texts, ['one']);
  t.equal(late.batches[0], parked.batches[0], 'the same batch object, so one encoding of it');
  const next = new Probe();
  hub.subscribe(channel, parked.batches[0]!.cursor, next);
  await until(() => hub.stats().waiting === 1);
  const { message: two } = await hub.publish(channel, 'two');
  await next.answered();
  const after = new Probe();
  hub.subscribe(channel, start.id, after);
  await after.answered();
  t.same(after.texts, ['one', 'two'], 'from further back: what memory holds after that cursor');
  t.equal(after.batches[0]!.cursor, two.id);
});

t.test('delivered counts what each waiter says it passed on', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  await hub.publish(channel, 'one');
  await hub.publish(channel, 'two');
  const plain = new (class extends Probe {
    override deliver(batch: Parameters<Probe['deliver']>[0]): number {
      super.deliver(batch);
      return 1;
    }
  })();
  hub.subscribe(channel, '0', plain);
  await plain.answered();
  const all = new Probe();
  hub.subscribe(channel, '0', all);
  await all.answered();
  t.equal(hub.stats().delivered, 1 + 2, 'one for the waiter that sent one, all for the one that said nothing');
});

t.test('cancel() un-parks a waiter and is idempotent', async (t) => {
  const hub = await openHub(t);
  const channel = fresh();
  const probe = new Probe();
  const subscription = hub.subscribe(channel, undefined, probe);
  await until(() => hub.stats().waiting === 1);
  subscription.cancel();
  subscription.cancel();
  t.equal(hub.stats().waiting, 0);
  await hub.publish(channel, 'nobody hears this');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(probe.batches, []);
  const early = new Probe();
  hub.subscribe(channel, '0', early).cancel();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same([early.batches, early.starts], [[], 0], 'cancelled while Redis was being asked: never called');
});

t.test('close() releases every waiter once and refuses further work; idempotent', async (t) => {
  const hub = new RedisHub({ url: redis.url });
  await hub.open();
  const probe = new Probe();
  hub.subscribe(fresh(), undefined, probe);
  await until(() => hub.stats().waiting === 1);
  const closing = hub.close();
  t.equal(hub.close(), closing, 'the same promise');
  await closing;
  t.equal(probe.released, 1);
  await t.rejects(hub.publish('any', 'x'), HubClosedError);
  const late = new Probe();
  hub.subscribe('any', undefined, late);
  await late.answered();
  t.equal(late.released, 1, 'a subscribe after close is released');
});

t.test('without a connection, publish and read fail as storage unavailable', async (t) => {
  const hub = new RedisHub({ url: redis.url });
  t.teardown(() => hub.close());
  await t.rejects(hub.publish('any', 'x'), StorageUnavailableError, 'before open()');
  await t.rejects(hub.read('any', '0'), StorageUnavailableError);
  t.same(hub.stats().storage, { kind: 'redis', up: false });
});

t.test('channels watched at once are bounded: an idle one makes room, a busy one does not', async (t) => {
  const hub = await openHub(t, { maxChannels: 1 });
  const [a, b] = [fresh(), fresh()];
  const first = hub.subscribe(a, undefined, new Probe());
  await until(() => hub.stats().waiting === 1);
  const refused = new Probe();
  hub.subscribe(b, undefined, refused);
  await refused.answered();
  t.type(refused.failures[0], HubFullError, 'every watched channel has waiters');
  first.cancel();
  const admitted = new Probe();
  hub.subscribe(b, undefined, admitted);
  await until(() => hub.stats().waiting === 1);
  t.same([admitted.failures, hub.stats().channels], [[], 1], 'the idle channel gave way');
});

t.test('rejects bad options', async (t) => {
  t.throws(() => new RedisHub({ url: 'http://x' }), TypeError);
  t.throws(() => new RedisHub({ url: redis.url, historyLimit: 0 }), RangeError);
});
