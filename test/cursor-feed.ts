import t from 'tap';
import { CursorFeed } from '../src/client/cursor-feed.js';
import type { CursorFeedOptions } from '../src/client/cursor-feed.js';
import type { Batch } from '../src/protocol.js';
import { CLOSED, CONNECTING, LIVE } from '../src/client/reconnect.js';
import { message, recorder } from './fixtures/fakes.js';
import { until } from './fixtures/wait.js';

/** A transport that answers the batches it is given, one per attempt, then waits to be closed. */
class Scripted extends CursorFeed {
  readonly #batches: Batch[];
  constructor(options: CursorFeedOptions, batches: Batch[]) {
    super(options);
    this.#batches = batches;
    this.start();
  }
  protected attempt(signal: AbortSignal): Promise<number | null> {
    const next = this.#batches.shift();
    if (next) {
      this.take(next);
      return Promise.resolve(null);
    }
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(null)));
  }
}

t.test('starts from since (default 0), moves with each batch, delivers it, and closes once', async (t) => {
  const { log, states, options } = recorder();
  const idle = new Scripted(options, []);
  t.equal(idle.cursor, '0');
  t.equal(idle.state, CONNECTING);
  idle.close();
  const feed = new Scripted({ ...options, since: 'x' }, [
    { messages: [message(1)], missed: true, cursor: 'm1' },
    { messages: [message(1), message(2)], missed: false, cursor: 'm2' },
  ]);
  await until(() => (feed.cursor === 'm2' ? true : undefined));
  t.equal(feed.state, LIVE);
  t.same(log, ['missed', 'm1', 'm2']);
  feed.close();
  feed.close();
  t.equal(feed.state, CLOSED);
  t.same(
    states.map((s) => s.state),
    [CLOSED, LIVE, CLOSED],
  );
});
