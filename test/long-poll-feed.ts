import t from 'tap';
import type { Test as Tap } from 'tap';
import { LongPollFeed } from '../src/client/long-poll-feed.js';
import { CLOSED, CONNECTING, LIVE, OFFLINE, RECONNECTING } from '../src/client/reconnect.js';
import type { FeedOptions } from '../src/client/feed-options.js';
import type { FeedState, StateDetail } from '../src/client/reconnect.js';
import type { Message } from '../src/protocol.js';
import { NOW, batch, fakeFetch, message, status } from './fixtures/fakes.js';
import type { Call } from './fixtures/fakes.js';
import { sleep, until } from './fixtures/wait.js';

const BASE = 'http://pollcast.test';

/** A long-poll feed on a fake fetch that logs everything it reports. */
function setup(t: Tap, options: FeedOptions = {}) {
  const fake = fakeFetch();
  const log: string[] = [];
  const messages: Message[] = [];
  const states: Array<{ state: FeedState; detail: StateDetail }> = [];
  const feed = new LongPollFeed({
    base: BASE,
    fetch: fake.fetch,
    network: null,
    now: () => NOW,
    random: () => 0,
    retryBase: 10,
    retryCap: 80,
    liveAfter: 10_000,
    onMessage: (m) => {
      messages.push(m);
      log.push(`message ${m.id}`);
    },
    onMissed: () => log.push('missed'),
    onState: (state, detail) => {
      states.push({ state, detail });
      log.push(`state ${state}`);
    },
    ...options,
  });
  t.teardown(() => feed.close());
  /** The detail of the n-th retry scheduled (from 0), once it is. */
  const retry = (n: number) => until(() => states.filter((s) => s.state === RECONNECTING)[n]?.detail);
  return { feed, fake, log, messages, states, retry };
}

const since = (call: Call) => call.url.searchParams.get('since');

t.test('requests', async (t) => {
  t.test('sends a bearer token when given one', async (t) => {
    const { fake } = setup(t, { token: 'reader' });
    const call = await fake.next();
    t.same(call.init.headers, { accept: 'application/json', authorization: 'Bearer reader' });
  });

  t.test('asks for JSON, uncached, abortable, from the oldest message', async (t) => {
    const { fake } = setup(t);
    const call = await fake.next();
    t.equal(call.url.pathname, '/subscribe');
    t.equal(since(call), '0');
    t.same(call.init.headers, { accept: 'application/json' });
    t.equal(call.init.cache, 'no-store');
    t.type(call.init.signal, AbortSignal);
  });

  t.test('names the channel in the path and drops a trailing slash of the base', async (t) => {
    const { fake } = setup(t, { base: `${BASE}/app/`, channel: 'news_2-x', since: 'a b&c' });
    const call = await fake.next();
    t.equal(call.url.pathname, '/app/subscribe/news_2-x');
    t.equal(since(call), 'a b&c', 'the cursor is escaped');
  });

  t.test('rejects bad options at once', async (t) => {
    t.throws(() => new LongPollFeed({ fetch: fakeFetch().fetch, channel: 'no spaces' }), TypeError);
    t.throws(() => new LongPollFeed({ fetch: fakeFetch().fetch, channel: '' }), TypeError);
    t.throws(() => new LongPollFeed({ fetch: fakeFetch().fetch, retryBase: 0 }), RangeError);
    t.throws(() => new LongPollFeed({ fetch: fakeFetch().fetch, retryBase: 100, retryCap: 50 }), RangeError);
  });
});

t.test('delivery', async (t) => {
  t.test('loads the history, then resumes from each cursor without a gap', async (t) => {
    const { fake, messages, feed } = setup(t);
    t.equal(feed.state, CONNECTING);
    (await fake.next()).respond(batch([message(1), message(2)], 'c2'));
    const second = await fake.next();
    t.equal(since(second), 'c2');
    t.equal(feed.state, LIVE);
    second.respond(batch([message(3)], 'c3'));
    const third = await fake.next();
    t.equal(since(third), 'c3');
    t.equal(feed.cursor, 'c3');
    t.same(
      messages.map((m) => m.id),
      ['m1', 'm2', 'm3'],
      'all of them, in order',
    );
    t.same(messages[0], message(1), 'text and time intact');
  });

  t.test('polls again at once on 204, with the cursor the header carries', async (t) => {
    const { fake, states } = setup(t);
    (await fake.next()).respond(batch([], 'c1'));
    (await fake.next()).respond(status(204, '', { 'pollcast-cursor': 'c7' }));
    const afterHeader = await fake.next(50);
    t.equal(since(afterHeader), 'c7', 'the header wins');
    afterHeader.respond(status(204));
    t.equal(since(await fake.next(50)), 'c7', 'no header: the same cursor');
    t.notOk(
      states.some((s) => s.state === RECONNECTING),
      'a 204 is not a failure',
    );
  });

  t.test('delivers a message once even when the server repeats it', async (t) => {
    const { fake, messages } = setup(t);
    (await fake.next()).respond(batch([message(1), message(2)], 'c2'));
    (await fake.next()).respond(batch([message(2), message(3), message(3)], 'c3'));
    await fake.next();
    t.same(
      messages.map((m) => m.id),
      ['m1', 'm2', 'm3'],
    );
  });

  t.test('reports missed messages before the ones after the gap', async (t) => {
    const { fake, log } = setup(t);
    (await fake.next()).respond(batch([message(5)], 'c5', true));
    (await fake.next()).respond(batch([message(6)], 'c6'));
    await fake.next();
    t.same(log, ['state live', 'missed', 'message m5', 'message m6']);
  });

  t.test('a body that is not a batch is a failure and the cursor stays', async (t) => {
    const { fake, retry, messages } = setup(t);
    (await fake.next()).respond(batch([message(1)], 'c1'));
    (await fake.next()).respond(new Response('<html>oops</html>', { status: 200 }));
    t.equal(since(await fake.next()), 'c1');
    t.equal((await retry(0)).error?.status, 200);
    t.equal(messages.length, 1);
  });

  t.test('stops delivering when a listener closes it mid-batch', async (t) => {
    const fake = fakeFetch();
    const seen: string[] = [];
    const feed: LongPollFeed = new LongPollFeed({
      base: BASE,
      fetch: fake.fetch,
      network: null,
      onMessage: (m) => {
        seen.push(m.id);
        feed.close();
      },
    });
    (await fake.next()).respond(batch([message(1), message(2)], 'c2'));
    await sleep(20);
    t.same(seen, ['m1']);
    t.equal(fake.calls.length, 1);
  });
});

t.test('retries', async (t) => {
  t.test('reconnects at once after a first 502, then backs off', async (t) => {
    const { fake, retry } = setup(t);
    (await fake.next()).respond(status(502, 'bad gateway\nmore detail'));
    let detail = await retry(0);
    t.same(detail.error, { status: 502, reason: 'bad gateway' }, 'the first line of the body');
    t.equal(detail.retryAt, NOW, 'at once');
    (await fake.next()).respond(status(504));
    detail = await retry(1);
    t.equal(detail.retryAt, NOW + 10, 'the second gateway failure backs off');
    t.same(detail.error, { status: 504, reason: 'Gateway Timeout' }, 'no body: the status text');
    (await fake.next()).respond(status(502));
    t.equal((await retry(2)).retryAt, NOW + 20);
    (await fake.next()).respond(status(204));
    (await fake.next()).respond(status(502));
    t.equal((await retry(3)).retryAt, NOW, 'a success resets: at once again');
  });

  t.test('backs off exponentially with jitter on network errors, capped, reset by a success', async (t) => {
    const { fake, retry, feed, states } = setup(t, { random: () => 0.5 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      (await fake.next()).fail(new TypeError('fetch failed'));
      const detail = await retry(i);
      t.same(detail.error, { status: null, reason: 'fetch failed' });
      delays.push((detail.retryAt ?? 0) - NOW);
    }
    // 10, 20, 40, 80, 80 ms, each less a quarter times random() = 0.5
    t.same(delays, [9, 18, 35, 70, 70]);
    (await fake.next()).respond(batch([], 'c1'));
    await until(() => feed.state === LIVE || undefined);
    t.equal(states.at(-1)?.detail.error, null, 'a success clears the error');
    (await fake.next()).fail(new TypeError('fetch failed'));
    t.equal((await retry(5)).retryAt, NOW + 9, 'from the start again');
  });

  t.test('really waits before a retry, and goes connecting when it tries', async (t) => {
    const { fake, states } = setup(t, { retryBase: 60, retryCap: 60 });
    (await fake.next()).fail(new TypeError('fetch failed'));
    const failedAt = performance.now();
    await fake.next();
    t.ok(performance.now() - failedAt >= 55, 'waited about the backoff');
    t.same(
      states.map((s) => s.state),
      [RECONNECTING, CONNECTING],
    );
    t.same(states.at(-1)?.detail.error?.reason, 'fetch failed', 'the last error stays visible while trying');
  });

  t.test('on 503 waits the Retry-After (within the cap) and surfaces the reason', async (t) => {
    const { fake, retry } = setup(t, { retryCap: 500 });
    (await fake.next()).respond(status(503, 'shutting down', { 'retry-after': '0.2' }));
    t.same(await retry(0), { retryAt: NOW + 200, error: { status: 503, reason: 'shutting down' } });
    (await fake.next()).respond(status(503, 'shutting down', { 'retry-after': '3600' }));
    t.equal((await retry(1)).retryAt, NOW + 500, 'never beyond the cap');
    (await fake.next()).respond(status(500, 'boom'));
    t.equal((await retry(2)).retryAt, NOW + 40, 'other statuses back off too');
    t.equal(since(await fake.next()), '0', 'the cursor has not moved');
  });
});

t.test('a poll parked long enough counts as live, and then fails like any other', async (t) => {
  const { fake, feed, states, retry } = setup(t, { liveAfter: 30 });
  const call = await fake.next();
  t.equal(feed.state, CONNECTING);
  await until(() => feed.state === LIVE || undefined);
  t.equal(since(call), '0', 'still the first poll');
  call.respond(status(502));
  t.equal((await retry(0)).retryAt, NOW, 'a first gateway failure: at once');
  (await fake.next()).respond(status(502));
  t.equal((await retry(1)).retryAt, NOW + 10, 'being parked was no success: the backoff goes on');
  const parkedAgain = await fake.next();
  await until(() => feed.state === LIVE || undefined);
  parkedAgain.respond(status(504));
  t.equal((await retry(2)).retryAt, NOW, 'a gateway dropping a parked poll: at once again');
  (await fake.next()).fail(new TypeError('fetch failed'));
  t.equal((await retry(3)).retryAt, NOW + 20, 'the backoff steps were kept');
  t.same(
    states.map((s) => s.state),
    [LIVE, RECONNECTING, CONNECTING, RECONNECTING, CONNECTING, LIVE, RECONNECTING, CONNECTING, RECONNECTING],
  );
});

t.test('close()', async (t) => {
  t.test('aborts the poll in flight and sends no more', async (t) => {
    const { fake, feed, states } = setup(t);
    const call = await fake.next();
    feed.close();
    t.equal(call.init.signal.aborted, true);
    t.equal(feed.state, CLOSED);
    feed.close();
    t.same(
      states.map((s) => s.state),
      [CLOSED],
      'idempotent: closed once',
    );
    await sleep(30);
    t.equal(fake.calls.length, 1);
  });

  t.test('clears the retry timer', async (t) => {
    const { fake, feed, retry } = setup(t, { retryBase: 60_000, retryCap: 60_000 });
    (await fake.next()).fail(new TypeError('fetch failed'));
    await retry(0);
    const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const before = timers();
    feed.close();
    t.equal(timers(), before - 1, 'the pending retry no longer holds the event loop');
    await sleep(20);
    t.equal(fake.calls.length, 1, 'the retry never went out');
  });

  t.test('follows an abort signal, even one aborted already', async (t) => {
    const controller = new AbortController();
    const { fake, feed } = setup(t, { signal: controller.signal });
    const call = await fake.next();
    controller.abort();
    t.equal(feed.state, CLOSED);
    t.equal(call.init.signal.aborted, true);

    const early = setup(t, { signal: AbortSignal.abort() });
    t.equal(early.feed.state, CLOSED);
    await sleep(20);
    t.equal(early.fake.calls.length, 0);
  });
});

t.test('online and offline', async (t) => {
  t.test('offline aborts the poll and waits; online polls again from the same cursor', async (t) => {
    const network = new EventTarget();
    const { fake, feed } = setup(t, { network });
    (await fake.next()).respond(batch([message(1)], 'c1'));
    const parked = await fake.next();
    network.dispatchEvent(new Event('offline'));
    t.equal(feed.state, OFFLINE);
    t.equal(parked.init.signal.aborted, true);
    await sleep(40);
    t.equal(fake.calls.length, 2, 'nothing sent while offline');
    network.dispatchEvent(new Event('online'));
    t.equal(feed.state, CONNECTING);
    t.equal(since(await fake.next(50)), 'c1');
  });

  t.test('starts offline when the browser says so', async (t) => {
    const network = new EventTarget();
    const { fake, feed } = setup(t, { network, onLine: () => false });
    t.equal(feed.state, OFFLINE);
    await sleep(30);
    t.equal(fake.calls.length, 0);
    network.dispatchEvent(new Event('online'));
    t.equal(since(await fake.next(50)), '0');
  });

  t.test('online cuts a backoff short', async (t) => {
    const network = new EventTarget();
    const { fake, feed, retry } = setup(t, { network, retryBase: 60_000, retryCap: 60_000 });
    (await fake.next()).fail(new TypeError('fetch failed'));
    await retry(0);
    t.equal(feed.state, RECONNECTING);
    network.dispatchEvent(new Event('online'));
    await fake.next(50);
  });

  t.test('going offline during a backoff cancels the retry', async (t) => {
    const network = new EventTarget();
    const { fake, feed, retry } = setup(t, { network, retryBase: 20, retryCap: 20 });
    (await fake.next()).fail(new TypeError('fetch failed'));
    await retry(0);
    network.dispatchEvent(new Event('offline'));
    await sleep(60);
    t.equal(feed.state, OFFLINE);
    t.equal(fake.calls.length, 1);
  });

  t.test('close() stops listening to the network', async (t) => {
    const network = new EventTarget();
    const { fake, feed } = setup(t, { network });
    await fake.next();
    feed.close();
    network.dispatchEvent(new Event('offline'));
    network.dispatchEvent(new Event('online'));
    t.equal(feed.state, CLOSED);
    await sleep(20);
    t.equal(fake.calls.length, 1);
  });
});
