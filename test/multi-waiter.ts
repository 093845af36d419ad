import t from 'tap';
import { InvalidCursorError } from '../src/hub.js';
import { MemoryHub } from '../src/memory-hub.js';
import { SetWait } from '../src/http/multi-waiter.js';
import type { SetWaiter } from '../src/http/multi-waiter.js';
import type { Batch } from '../src/protocol.js';

/** A waiter that records what it was told. */
function recorder(): SetWaiter & { answers: Map<string, Batch>[]; released: number; failures: Error[] } {
  const record = {
    answers: [] as Map<string, Batch>[],
    released: 0,
    failures: [] as Error[],
    deliver: (batches: ReadonlyMap<string, Batch>) => void record.answers.push(new Map(batches)),
    release: () => void record.released++,
    fail: (error: Error) => void record.failures.push(error),
  };
  return record;
}

const texts = (batch: Batch | undefined): string[] => batch?.messages.map((m) => m.text) ?? [];
const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('waits on every channel; the first news answers every channel, and nothing stays parked', async (t) => {
  const hub = new MemoryHub();
  const waiter = recorder();
  const wait = new SetWait(['a', 'b', 'c'], waiter);
  wait.start(hub, new Map());
  t.equal(hub.stats().waiting, 3);
  await hub.publish('b', 'hi');
  await tick();
  t.equal(waiter.answers.length, 1);
  const answer = waiter.answers[0]!;
  t.same([...answer.keys()], ['a', 'b', 'c']);
  t.same(texts(answer.get('b')), ['hi']);
  t.equal(answer.get('a')!.cursor, answer.get('c')!.cursor, 'the others at the position they waited from');
  t.equal(hub.stats().waiting, 0, 'the other channels were let go');
  await hub.publish('a', 'later');
  await tick();
  t.equal(waiter.answers.length, 1, 'answered once');
});

t.test('what is ready at once on several channels comes in one answer', async (t) => {
  const hub = new MemoryHub();
  const one = await hub.publish('a', 'one');
  await hub.publish('a', 'two');
  await hub.publish('b', 'three');
  const waiter = recorder();
  new SetWait(['a', 'b'], waiter).start(
    hub,
    new Map([
      ['a', one.message.id],
      ['b', '0'],
    ]),
  );
  await tick();
  t.same([texts(waiter.answers[0]!.get('a')), texts(waiter.answers[0]!.get('b'))], [['two'], ['three']]);
});

t.test('a bad cursor on one channel throws, and the channels parked before it are let go', async (t) => {
  const hub = new MemoryHub();
  const waiter = recorder();
  t.throws(() => new SetWait(['a', 'b', 'c'], waiter).start(hub, new Map([['c', 'nonsense']])), InvalidCursorError);
  t.equal(hub.stats().waiting, 0);
});

t.test('cancel() and expire() let every channel go; expire() answers every position', async (t) => {
  const hub = new MemoryHub();
  const cancelled = recorder();
  const first = new SetWait(['a', 'b'], cancelled);
  first.start(hub, new Map());
  first.cancel();
  first.cancel();
  t.equal(hub.stats().waiting, 0, 'cancel() is exact and idempotent');
  await hub.publish('a', 'x');
  await tick();
  t.same(cancelled.answers, [], 'nothing after cancel()');

  const expired = recorder();
  const second = new SetWait(['a', 'b'], expired);
  second.start(hub, new Map());
  t.equal(second.expire(), true);
  t.equal(hub.stats().waiting, 0);
  t.same(
    [...expired.answers[0]!.values()].map((batch) => batch.messages.length),
    [0, 0],
  );
});

t.test('the hub closing releases the wait once', async (t) => {
  const hub = new MemoryHub();
  const waiter = recorder();
  new SetWait(['a', 'b'], waiter).start(hub, new Map());
  await hub.close();
  t.equal(waiter.released, 1);
  t.equal(hub.stats().waiting, 0);
});
