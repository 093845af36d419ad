import t from 'tap';
import { HubClosedError, HubFullError, InvalidCursorError, KeyReusedError } from '../src/hub.js';
import { CHANNEL_OVERHEAD, messageCost } from '../src/footprint.js';
import { MemoryHub } from '../src/memory-hub.js';
import { Probe } from './fixtures/probe.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('publish() wakes every waiter of its channel, and only of its channel', async (t) => {
  const hub = new MemoryHub();
  const a = new Probe();
  const b = new Probe();
  const other = new Probe();
  hub.subscribe('room', undefined, a);
  hub.subscribe('room', undefined, b);
  hub.subscribe('elsewhere', undefined, other);
  t.equal(hub.stats().waiting, 3);
  const { message } = await hub.publish('room', 'hello');
  t.same(a.texts, [], 'not before the end of the turn');
  await tick();
  t.same(a.texts, ['hello']);
  t.same(b.texts, ['hello']);
  t.equal(a.batches[0], b.batches[0], 'one batch object serves every waiter');
  t.equal(a.batches[0]!.cursor, message.id);
  t.same(other.batches, []);
  t.same(hub.stats(), { waiting: 1, channels: 2, published: 1, delivered: 2, bytes: messageCost('hello') + 2 * CHANNEL_OVERHEAD });
});

t.test('what is published to a channel in one turn wakes each waiter once, with what it has not seen', async (t) => {
  const hub = new MemoryHub();
  const early = new Probe();
  const late = new Probe();
  const other = new Probe();
  hub.subscribe('room', undefined, early);
  hub.subscribe('other', undefined, other);
  void hub.publish('room', 'one');
  // Parks at the head, after 'one', in the same turn.
  hub.subscribe('room', undefined, late);
  void hub.publish('room', 'two');
  void hub.publish('room', 'three');
  t.equal(hub.stats().waiting, 1, 'the woken are counted off at once; "other" still waits');
  await tick();
  t.same(
    early.batches.map((batch) => batch.messages.map((message) => message.text)),
    [['one', 'two', 'three']],
    'one batch',
  );
  t.same(
    late.batches.map((batch) => batch.messages.map((message) => message.text)),
    [['two', 'three']],
    'nothing it had seen',
  );
  t.equal(early.batches[0]!.cursor, late.batches[0]!.cursor);
  t.same(other.batches, []);
  t.equal(hub.stats().delivered, 5);
});

t.test('close() hands over what was published in its turn before it lets waiters go', async (t) => {
  const hub = new MemoryHub();
  const probe = new Probe();
  hub.subscribe('room', undefined, probe);
  void hub.publish('room', 'last words');
  await hub.close();
  t.same(probe.texts, ['last words']);
  t.equal(probe.released, 0);
});

t.test('subscribe() from a cursor answers at once, never synchronously', async (t) => {
  const hub = new MemoryHub();
  const { message: first } = await hub.publish('room', 'one');
  await hub.publish('room', 'two');
  await hub.publish('room', 'three');
  const probe = new Probe();
  hub.subscribe('room', first.id, probe);
  t.same(probe.batches, [], 'nothing delivered inside subscribe()');
  await tick();
  t.same(probe.texts, ['two', 'three']);
  t.equal(probe.batches[0]!.missed, false);
  t.equal(hub.stats().waiting, 0);
});

t.test('the cursor 0 means everything kept, with no missed sign', async (t) => {
  const hub = new MemoryHub({ historyLimit: 2 });
  for (const text of ['a', 'b', 'c']) await hub.publish('room', text);
  const probe = new Probe();
  hub.subscribe('room', '0', probe);
  await tick();
  t.same(probe.texts, ['b', 'c']);
  t.equal(probe.batches[0]!.missed, false);
});

t.test('a cursor older than the history is answered with what is kept and missed', async (t) => {
  const hub = new MemoryHub({ historyLimit: 2 });
  const { message: first } = await hub.publish('room', 'a');
  for (const text of ['b', 'c', 'd']) await hub.publish('room', text);
  const probe = new Probe();
  hub.subscribe('room', first.id, probe);
  await tick();
  t.same(probe.texts, ['c', 'd']);
  t.equal(probe.batches[0]!.missed, true);
});

t.test('a cursor that is just at the edge of the history missed nothing', async (t) => {
  const hub = new MemoryHub({ historyLimit: 2 });
  await hub.publish('room', 'a');
  const { message: second } = await hub.publish('room', 'b');
  for (const text of ['c', 'd']) await hub.publish('room', text);
  const probe = new Probe();
  hub.subscribe('room', second.id, probe);
  await tick();
  t.same(probe.texts, ['c', 'd']);
  t.equal(probe.batches[0]!.missed, false);
});

t.test('a cursor from an earlier run gets the history and missed, even when there is none', async (t) => {
  const earlier = new MemoryHub();
  const { message: old } = await earlier.publish('room', 'gone');
  const hub = new MemoryHub();
  const empty = new Probe();
  hub.subscribe('room', old.id, empty);
  await tick();
  t.equal(empty.batches.length, 1);
  t.same(empty.batches[0]!.messages, []);
  t.equal(empty.batches[0]!.missed, true);

  await hub.publish('room', 'new');
  const full = new Probe();
  hub.subscribe('room', old.id, full);
  await tick();
  t.same(full.texts, ['new']);
  t.equal(full.batches[0]!.missed, true);
});

t.test('sequence numbers are global: a cursor from another channel still means "after this point"', async (t) => {
  const hub = new MemoryHub();
  await hub.publish('a', 'a1');
  const { message: marker } = await hub.publish('b', 'b1');
  await hub.publish('a', 'a2');
  const probe = new Probe();
  hub.subscribe('a', marker.id, probe);
  await tick();
  t.same(probe.texts, ['a2']);
});

t.test('malformed cursors and cursors from the future are refused', async (t) => {
  const hub = new MemoryHub();
  const { message } = await hub.publish('room', 'x');
  const run = message.id.slice(0, message.id.lastIndexOf('-'));
  for (const bad of ['', 'abc', '-1', `${run}-`, `${run}-1.5`, 'x'.repeat(200), `${run}-99`]) {
    t.throws(() => hub.subscribe('room', bad, new Probe()), InvalidCursorError, JSON.stringify(bad));
  }
  t.equal(hub.stats().waiting, 0);
});

t.test('cancel() un-parks a waiter, drops an idle channel, and is idempotent', async (t) => {
  const hub = new MemoryHub();
  const probe = new Probe();
  const subscription = hub.subscribe('room', undefined, probe);
  t.same(
    hub.stats(),
    { waiting: 1, channels: 1, published: 0, delivered: 0, bytes: CHANNEL_OVERHEAD },
    'a channel costs even without history',
  );
  subscription.cancel();
  subscription.cancel();
  t.same(hub.stats(), { waiting: 0, channels: 0, published: 0, delivered: 0, bytes: 0 });
  await hub.publish('room', 'after');
  t.same(probe.batches, []);
});

t.test('the cursor 0 on an empty channel answers at once with the position', async (t) => {
  const hub = new MemoryHub();
  await hub.publish('elsewhere', 'moves the sequence');
  const probe = new Probe();
  hub.subscribe('room', '0', probe);
  t.equal(hub.stats().waiting, 0, 'not parked');
  await tick();
  t.equal(probe.batches.length, 1);
  t.same(probe.batches[0]!.messages, []);
  t.equal(probe.batches[0]!.missed, false);
  const next = new Probe();
  hub.subscribe('room', probe.batches[0]!.cursor, next);
  t.equal(hub.stats().waiting, 1, 'its cursor parks');
  await hub.publish('room', 'first');
  await tick();
  t.same(next.texts, ['first']);
});

t.test('a cancel before an immediate answer suppresses it', async (t) => {
  const hub = new MemoryHub();
  await hub.publish('room', 'x');
  const probe = new Probe();
  hub.subscribe('room', '0', probe).cancel();
  await tick();
  t.same(probe.batches, []);
});

t.test('close() releases every waiter once and refuses further work', async (t) => {
  const hub = new MemoryHub();
  const probes = [new Probe(), new Probe(), new Probe()];
  hub.subscribe('a', undefined, probes[0]!);
  hub.subscribe('b', undefined, probes[1]!);
  hub.close();
  hub.close();
  t.same(
    probes.map((p) => p.released),
    [1, 1, 0],
  );
  t.equal(hub.stats().waiting, 0);
  hub.subscribe('a', undefined, probes[2]!);
  await tick();
  t.equal(probes[2]!.released, 1, 'a late subscriber is released too');
  await t.rejects(hub.publish('a', 'late'), HubClosedError);
});

t.test('delivered counts what each waiter says it passed on', async (t) => {
  const hub = new MemoryHub();
  await hub.publish('room', 'one');
  await hub.publish('room', 'two');
  const plain = new (class extends Probe {
    override deliver(batch: Parameters<Probe['deliver']>[0]): number {
      super.deliver(batch);
      return 1;
    }
  })();
  hub.subscribe('room', '0', plain);
  hub.subscribe('room', '0', new Probe());
  await tick();
  t.equal(hub.stats().delivered, 1 + 2, 'one for the waiter that sent one, all for the one that said nothing');
});

t.test('rejects a bad history limit', async (t) => {
  t.throws(() => new MemoryHub({ historyLimit: 0 }), RangeError);
  t.throws(() => new MemoryHub({ historyLimit: 1.5 }), RangeError);
  t.throws(() => new MemoryHub({ historyBytes: 0 }), /historyBytes/);
  t.throws(() => new MemoryHub({ maxChannels: -1 }), /maxChannels/);
});

t.test('a repeated idempotency key stores nothing and answers the first message', async (t) => {
  const hub = new MemoryHub({ historyLimit: 3 });
  const probe = new Probe();
  hub.subscribe('room', undefined, probe);
  const first = await hub.publish('room', 'once', 'key-1');
  t.equal(first.repeated, false);
  const again = await hub.publish('room', 'once', 'key-1');
  t.equal(again.repeated, true);
  t.equal(again.message, first.message);
  t.equal(hub.stats().published, 1);
  await tick();
  t.same(probe.texts, ['once'], 'waiters were woken once');
  await t.rejects(hub.publish('room', 'other text', 'key-1'), KeyReusedError);
  const elsewhere = await hub.publish('other', 'once', 'key-1');
  t.equal(elsewhere.repeated, false, 'keys are per channel');
});

t.test('keys are remembered for as many publishes as the history holds', async (t) => {
  const hub = new MemoryHub({ historyLimit: 2 });
  await hub.publish('room', 'a', 'ka');
  await hub.publish('room', 'b', 'kb');
  t.equal((await hub.publish('room', 'a', 'ka')).repeated, true);
  await hub.publish('room', 'c', 'kc');
  t.equal((await hub.publish('room', 'a', 'ka')).repeated, false, 'the oldest key was forgotten');
});

t.test("clients resuming from one cursor share one batch, within the cache's budget", async (t) => {
  const hub = new MemoryHub({ batchCacheBytes: 4096 });
  const { message: first } = await hub.publish('room', 'one');
  await hub.publish('room', 'two');
  const [a, b] = [new Probe(), new Probe()];
  hub.subscribe('room', first.id, a);
  hub.subscribe('room', first.id, b);
  await tick();
  t.equal(a.batches[0], b.batches[0], 'one batch, so one encoding');
  await hub.publish('room', 'x'.repeat(1000));
  const [c, d] = [new Probe(), new Probe()];
  hub.subscribe('room', first.id, c);
  hub.subscribe('room', first.id, d);
  await tick();
  t.same(c.texts, d.texts);
  t.not(c.batches[0], d.batches[0], 'a batch whose encoding could pass the budget is made for each');
});

t.test('an idempotency key is charged with its message, and forgotten when its message is evicted', async (t) => {
  const key = 'k'.repeat(128);
  const hub = new MemoryHub({ historyBytes: CHANNEL_OVERHEAD + messageCost('a', key) });
  await hub.publish('room', 'a', key);
  t.equal(hub.stats().bytes, CHANNEL_OVERHEAD + messageCost('a', key));
  t.equal((await hub.publish('room', 'a', key)).repeated, true);
  await hub.publish('room', 'b');
  t.equal(hub.stats().bytes, CHANNEL_OVERHEAD + messageCost('b'), 'the keyed message went, and its key with it');
  t.equal((await hub.publish('room', 'a', key)).repeated, false, 'a key outlives no message');
});

t.test('history is bounded in bytes across channels: the oldest messages go first, and are reported missed', async (t) => {
  const two = 2 * CHANNEL_OVERHEAD + 2 * messageCost('aaaa');
  const hub = new MemoryHub({ historyBytes: two + messageCost('aaaa') - 1 });
  const { message: a1 } = await hub.publish('a', 'aaaa');
  await hub.publish('b', 'bbbb');
  t.equal(hub.stats().bytes, two);
  await hub.publish('a', 'cccc');
  t.equal(hub.stats().bytes, two, 'the oldest message of all was evicted');
  const fromA = new Probe();
  hub.subscribe('a', '0', fromA);
  const resumeA = new Probe();
  hub.subscribe('a', a1.id, resumeA);
  await tick();
  t.same(fromA.texts, ['cccc']);
  t.equal(resumeA.batches[0]!.missed, false, 'a1 itself was delivered before it was evicted');
  await hub.publish('c', 'd'.repeat(two + messageCost('aaaa') - 1 - CHANNEL_OVERHEAD - messageCost('')));
  t.equal(hub.stats().channels, 1, 'channels a and b lost their last message and were dropped');
  const fromB = new Probe();
  hub.subscribe('b', a1.id, fromB);
  t.equal(hub.stats().waiting, 0, 'not parked: there is news');
  await tick();
  t.same(fromB.batches[0]!.messages, []);
  t.equal(fromB.batches[0]!.missed, true, 'a dropped channel is remembered to have lost messages');
  const quiet = new Probe();
  hub.subscribe('never-used', a1.id, quiet);
  t.equal(hub.stats().waiting, 1, 'the losses of other channels are not reported for this one');
});

t.test('a message larger than the whole budget still reaches those waiting', async (t) => {
  const hub = new MemoryHub({ historyBytes: 4 });
  const probe = new Probe();
  hub.subscribe('a', undefined, probe);
  await hub.publish('a', 'too big to keep');
  await tick();
  t.same(probe.texts, ['too big to keep']);
  t.equal(hub.stats().bytes, 0);
  t.equal(hub.stats().channels, 0);
});

t.test('channels are bounded: a new one pushes out the least recently used, unless all have waiters', async (t) => {
  const hub = new MemoryHub({ maxChannels: 2 });
  await hub.publish('old', 'x');
  await hub.publish('recent', 'y');
  await hub.publish('new', 'z');
  t.equal(hub.stats().channels, 2);
  const probe = new Probe();
  hub.subscribe('old', '0', probe);
  await tick();
  t.same(probe.texts, [], 'the oldest channel went');

  const full = new MemoryHub({ maxChannels: 1 });
  full.subscribe('busy', undefined, new Probe());
  await t.rejects(full.publish('other', 'x'), HubFullError);
  t.throws(() => full.subscribe('other', undefined, new Probe()), HubFullError);
});

t.test("entries evicted by a channel's own limit do not pile up", async (t) => {
  const hub = new MemoryHub({ historyLimit: 1 });
  for (let i = 0; i < 5000; i++) await hub.publish('one', `m${i}`);
  t.equal(hub.stats().bytes, CHANNEL_OVERHEAD + messageCost('m4999'));
  const probe = new Probe();
  hub.subscribe('one', '0', probe);
  await tick();
  t.same(probe.texts, ['m4999']);
});

t.test('read() answers at once, with an empty batch and the place to ask from when there is nothing', async (t) => {
  const hub = new MemoryHub({ historyLimit: 2 });
  const empty = await hub.read('room', undefined);
  t.same(empty.messages, []);
  t.equal(hub.stats().waiting, 0);
  const { message: first } = await hub.publish('room', 'a');
  t.same(
    (await hub.read('room', empty.cursor)).messages.map((m) => m.text),
    ['a'],
  );
  const idle = await hub.read('room', first.id);
  t.same(idle, { messages: [], missed: false, cursor: first.id });
  await hub.publish('room', 'b');
  await hub.publish('room', 'c');
  const late = await hub.read('room', empty.cursor);
  t.equal(late.missed, true);
  t.throws(() => hub.read('room', 'nonsense'), InvalidCursorError);
});
