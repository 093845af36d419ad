import t from 'tap';
import type { Test as Tap } from 'tap';
import { IntervalPollFeed } from '../src/client/interval-poll-feed.js';
import type { FeedOptions } from '../src/client/feed-options.js';
import { CLOSED, LIVE } from '../src/client/reconnect.js';
import { NOW, batch, fakeFetch, message, recorder, timersClearedBy, status } from './fixtures/fakes.js';
import type { Call } from './fixtures/fakes.js';
import { sleep, until } from './fixtures/wait.js';

const BASE = 'http://pollcast.test';
const since = (call: Call) => call.url.searchParams.get('since');

function setup(t: Tap, options: FeedOptions = {}) {
  const fake = fakeFetch();
  const { log, states, retry, options: quick } = recorder();
  const feed = new IntervalPollFeed({ base: BASE, fetch: fake.fetch, ...quick, pollInterval: 30, ...options });
  t.teardown(() => feed.close());
  return { feed, fake, log, states, retry };
}

t.test('asks /messages for JSON from the cursor, with the token', async (t) => {
  const { fake } = setup(t, { channel: 'news', token: 'reader' });
  const call = await fake.next();
  t.equal(call.url.pathname, '/messages/news');
  t.equal(since(call), '0');
  t.same(call.init.headers, { accept: 'application/json', authorization: 'Bearer reader' });
});

t.test('waits the interval after each answer, never overlapping, and resumes from each cursor', async (t) => {
  const { fake, feed, log } = setup(t, { pollInterval: 60 });
  const first = await fake.next();
  await sleep(80);
  t.equal(fake.calls.length, 1, 'no second request while the first is unanswered');
  first.respond(batch([message(1), message(2)], 'm2'));
  const answeredAt = performance.now();
  const second = await fake.next();
  t.ok(performance.now() - answeredAt >= 55, 'the interval passed first');
  t.equal(since(second), 'm2');
  t.equal(feed.state, LIVE);
  second.respond(batch([message(2), message(3)], 'm3'));
  t.equal(since(await fake.next()), 'm3');
  t.same(log, ['m1', 'm2', 'm3'], 'the repeat is dropped');
});

t.test('missed comes before the messages after the gap', async (t) => {
  const { fake, log } = setup(t);
  (await fake.next()).respond(batch([message(5)], 'm5', true));
  await fake.next();
  t.same(log, ['missed', 'm5']);
});

t.test('failures back off from the same cursor; a body that is no batch is one', async (t) => {
  const { fake, retry } = setup(t);
  (await fake.next()).respond(batch([message(1)], 'm1'));
  (await fake.next()).fail(new TypeError('fetch failed'));
  t.same(await retry(0), { retryAt: NOW + 10, error: { status: null, reason: 'fetch failed' } });
  (await fake.next()).respond(new Response('<html>', { status: 200 }));
  t.equal((await retry(1)).error?.status, 200);
  (await fake.next()).respond(status(500, 'boom'));
  t.same(await retry(2), { retryAt: NOW + 40, error: { status: 500, reason: 'boom' } });
  const call = await fake.next();
  t.equal(since(call), 'm1');
  call.respond(batch([], 'm1'));
  (await fake.next()).respond(status(500));
  t.equal((await retry(3)).retryAt, NOW + 10, 'an answer resets the backoff');
});

t.test('rejects a bad interval', async (t) => {
  t.throws(() => new IntervalPollFeed({ fetch: fakeFetch().fetch, pollInterval: -1 }), RangeError);
  t.throws(() => new IntervalPollFeed({ fetch: fakeFetch().fetch, pollInterval: Number.NaN }), RangeError);
});

t.test('close()', async (t) => {
  t.test('with a request in flight: aborts it', async (t) => {
    const { fake, feed, states } = setup(t);
    const call = await fake.next();
    feed.close();
    feed.close();
    t.equal(call.init.signal.aborted, true);
    t.same(
      states.map((s) => s.state),
      [CLOSED],
    );
  });

  t.test('during the interval: clears its timer, no request after', async (t) => {
    const { fake, feed } = setup(t, { pollInterval: 60_000 });
    (await fake.next()).respond(batch([], 'c'));
    await until(() => (feed.state === LIVE ? true : undefined));
    await sleep(5);
    t.equal(
      timersClearedBy(() => feed.close()),
      1,
      'the pending timer no longer holds the event loop',
    );
    t.equal(fake.calls.length, 1);
  });

  t.test('during a backoff: clears the retry timer', async (t) => {
    const { fake, feed, retry } = setup(t, { retryBase: 60_000, retryCap: 60_000 });
    (await fake.next()).fail(new TypeError('fetch failed'));
    await retry(0);
    t.equal(
      timersClearedBy(() => feed.close()),
      1,
      'the pending timer no longer holds the event loop',
    );
  });
});
