import t from 'tap';
import type { Waiter } from '../src/hub.js';
import { releaseAll, Settled } from '../src/settled.js';

function recorder(): { waiter: Waiter; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    waiter: {
      deliver: (batch) => void calls.push(`deliver ${batch.cursor}`),
      release: () => void calls.push('release'),
      fail: (error) => void calls.push(`fail ${error.message}`),
    },
  };
}

t.test('a subscription is answered once: whatever comes after the first answer is dropped', async (t) => {
  const { waiter, calls } = recorder();
  const subscription = new Settled(waiter);
  t.equal(
    subscription.deliver({ messages: [{ id: 'a', text: 'x', time: 1 }], missed: false, cursor: 'a' }),
    1,
    'counts the messages delivered',
  );
  t.equal(subscription.deliver({ messages: [], missed: false, cursor: 'b' }), 0, 'a second batch counts nothing');
  subscription.release();
  subscription.fail(new Error('late'));
  t.same(calls, ['deliver a']);
  t.ok(subscription.done);
});

t.test('a settled (cancelled) subscription is never answered; releaseAll releases the rest', async (t) => {
  const cancelled = recorder();
  const parked = recorder();
  const gone = new Settled(cancelled.waiter);
  t.ok(gone.settle(), 'the first settle wins');
  t.notOk(gone.settle(), 'the second does not');
  releaseAll(new Set([gone, new Settled(parked.waiter)]));
  t.same(cancelled.calls, []);
  t.same(parked.calls, ['release']);
});
