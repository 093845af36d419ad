import t from 'tap';
import { SharedFeed } from '../src/browser/shared-feed.js';
import type { FollowedFeed } from '../src/browser/shared-feed.js';
import { FakeLocks } from './fixtures/fakes.js';
import type { FeedOptions } from '../src/client/feed.js';
import type { FeedState, StateDetail } from '../src/client/reconnect.js';
import type { Message } from '../src/protocol.js';

/** A stand-in for a feed: the test plays the server through its listeners. */
class FakeFeed implements FollowedFeed {
  cursor: string;
  closed = false;
  readonly options: FeedOptions;
  constructor(options: FeedOptions) {
    this.options = options;
    this.cursor = options.since ?? '0';
  }
  close(): void {
    this.closed = true;
  }
  deliver(...messages: Message[]): void {
    for (const message of messages) {
      this.cursor = message.id;
      this.options.onMessage?.(message);
    }
  }
}

interface Tab {
  feed: SharedFeed;
  texts: string[];
  missed: number;
  states: FeedState[];
}

const message = (n: number): Message => ({ id: `run-${n}`, text: `m${n}`, time: n });
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

function setup(t: { teardown(fn: () => unknown): void }) {
  const locks = new FakeLocks();
  const feeds: FakeFeed[] = [];
  const channel = `c${Math.random().toString(36).slice(2, 8)}`;
  const open = (overrides: Partial<ConstructorParameters<typeof SharedFeed>[0]> = {}): Tab => {
    const tab: Tab = { feed: undefined as unknown as SharedFeed, texts: [], missed: 0, states: [] };
    tab.feed = new SharedFeed({
      channel,
      locks,
      createFeed: (options) => {
        const feed = new FakeFeed(options);
        feeds.push(feed);
        return feed;
      },
      onMessage: (m) => tab.texts.push(m.text),
      onMissed: () => tab.missed++,
      onState: (state: FeedState, _detail: StateDetail) => tab.states.push(state),
      ...overrides,
    });
    t.teardown(() => tab.feed.close());
    return tab;
  };
  return { open, feeds };
}

t.test('one tab follows the channel; the others get its history and then each message, once, in order', async (t) => {
  const { open, feeds } = setup(t);
  const first = open();
  await settle();
  t.equal(feeds.length, 1);
  t.ok(first.feed.leading);
  t.equal(feeds[0]!.options.since, '0', 'the first feed asks for the history');
  feeds[0]!.deliver(message(1), message(2));

  const second = open();
  const third = open();
  await settle();
  t.equal(feeds.length, 1, 'no other tab follows it');
  t.notOk(second.feed.leading);
  t.same(second.texts, ['m1', 'm2'], 'a new tab gets what the leading tab has');

  feeds[0]!.deliver(message(3));
  feeds[0]!.deliver(message(3));
  await settle();
  for (const tab of [first, second, third]) t.same(tab.texts, ['m1', 'm2', 'm3']);
});

t.test('when the leading tab closes, another carries on from the last cursor it heard', async (t) => {
  const { open, feeds } = setup(t);
  const first = open();
  await settle();
  feeds[0]!.deliver(message(1), message(5));
  const second = open();
  const third = open();
  await settle();
  first.feed.close();
  await settle();
  t.ok(feeds[0]!.closed, 'the old feed is stopped');
  t.equal(feeds.length, 2, 'exactly one tab took over');
  t.ok(second.feed.leading, 'the next in line');
  t.equal(feeds[1]!.options.since, 'run-5', 'resumes after the last message');
  feeds[1]!.deliver(message(5), message(6));
  await settle();
  t.same(second.texts, ['m1', 'm5', 'm6']);
  t.same(third.texts, ['m1', 'm5', 'm6'], 'a repeat from the new feed is dropped');
});

t.test('the leading tab tells the others its state and missed messages', async (t) => {
  const { open, feeds } = setup(t);
  open();
  await settle();
  const follower = open();
  await settle();
  feeds[0]!.cursor = 'run-9';
  feeds[0]!.options.onState?.('reconnecting', { retryAt: 123, error: { status: 503, reason: 'down' } });
  feeds[0]!.options.onMissed?.();
  await settle();
  t.equal(follower.states.at(-1), 'reconnecting');
  t.equal(follower.missed, 1);
  t.equal(follower.feed.cursor, 'run-9', 'and its cursor');
});

t.test('without Web Locks or BroadcastChannel every tab follows the channel itself', async (t) => {
  const { open, feeds } = setup(t);
  const a = open({ locks: null });
  const b = open({ openBus: null });
  await settle();
  t.equal(feeds.length, 2);
  t.ok(a.feed.leading && b.feed.leading);
});

t.test('a tab that closes before it ever led gives up its place in line', async (t) => {
  const { open, feeds } = setup(t);
  const first = open();
  const waiting = open();
  await settle();
  waiting.feed.close();
  waiting.feed.close();
  const third = open();
  await settle();
  first.feed.close();
  await settle();
  t.equal(feeds.length, 2);
  t.ok(third.feed.leading, 'the lock went to the tab still open');
});

t.test('refuses a bad channel name', async (t) => {
  t.throws(() => new SharedFeed({ channel: 'no spaces', locks: null }), TypeError);
});

t.test('the transport and its options reach the feed; tabs share per transport', async (t) => {
  const { open, feeds } = setup(t);
  const fetch = async () => new Response(null, { status: 204 });
  const socket = open({ transport: 'websocket', pollInterval: 123, fetch });
  open({ transport: 'websocket' });
  await settle();
  t.equal(feeds.length, 1, 'two websocket tabs: one feed');
  t.ok(socket.feed.leading);
  t.match(feeds[0]!.options, { transport: 'websocket', pollInterval: 123, fetch });
  const polling = open({ transport: 'poll' });
  await settle();
  t.equal(feeds.length, 2, 'a tab on another transport follows on its own');
  t.ok(polling.feed.leading);
  t.equal(feeds[1]!.options.transport, 'poll');
});
