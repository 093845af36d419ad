import t from 'tap';
import type { Test as Tap } from 'tap';
import { EventStreamFeed } from '../src/client/event-stream-feed.js';
import { CLOSED, CONNECTING, LIVE, RECONNECTING } from '../src/client/reconnect.js';
import type { FeedOptions } from '../src/client/feed-options.js';
import { NOW, eventStream, fakeFetch, recorder, timersClearedBy, status } from './fixtures/fakes.js';
import type { Call } from './fixtures/fakes.js';
import { sleep, until } from './fixtures/wait.js';

const BASE = 'http://pollcast.test';
const since = (call: Call) => call.url.searchParams.get('since');

function setup(t: Tap, options: FeedOptions = {}) {
  const fake = fakeFetch();
  const { log, states, retry, options: quick } = recorder((m) => `${m.id}:${m.text}`);
  const feed = new EventStreamFeed({ base: BASE, fetch: fake.fetch, ...quick, ...options });
  t.teardown(() => feed.close());
  return { feed, fake, log, states, retry };
}

t.test('asks for an event stream from the cursor, with the token as a header', async (t) => {
  const { fake } = setup(t, { channel: 'news', token: 'reader', since: 'a b' });
  const call = await fake.next();
  t.equal(call.url.pathname, '/events/news');
  t.equal(since(call), 'a b');
  t.same(call.init.headers, { accept: 'text/event-stream', authorization: 'Bearer reader' });
});

t.test('delivers each message once, in order, multi-line text intact; live once the stream opens', async (t) => {
  const { fake, feed, log } = setup(t);
  const stream = eventStream(await fake.next());
  stream.write('retry: 2000\nid: c0\n\n');
  await until(() => (feed.state === LIVE ? true : undefined));
  t.equal(feed.cursor, 'c0', 'the opening id is the cursor');
  stream.write('id: m1\ndata: one\ndata: two\n\nid: m2\ndata: 2\n\n:\n\nid: m1\ndata: one again\n\n');
  await until(() => (log.length === 2 ? true : undefined));
  t.same(log, ['m1:one\ntwo', 'm2:2'], 'the repeat of m1 is dropped');
  t.equal(feed.cursor, 'm1', 'the cursor follows the stream');
});

t.test("each message's time comes from its time: field, NaN without one", async (t) => {
  const times: number[] = [];
  const { fake } = setup(t, { onMessage: (m) => times.push(m.time) });
  eventStream(await fake.next()).write('id: m1\ntime: 1796155257591\ndata: x\n\nid: m2\ndata: y\n\n');
  await until(() => (times.length === 2 ? true : undefined));
  t.same(times, [1796155257591, Number.NaN]);
});

t.test('missed: said before the messages after the gap; the cursor waits for their ids', async (t) => {
  const { fake, log, feed } = setup(t);
  const stream = eventStream(await fake.next());
  stream.write('id: old\n\nevent: missed\ndata: {"cursor":"m9"}\n\n');
  await until(() => (log.length === 1 ? true : undefined));
  t.equal(feed.cursor, 'old', 'not moved to the cursor of the missed event');
  stream.write('id: m9\ndata: after\n\n');
  await until(() => (log.length === 2 ? true : undefined));
  t.same(log, ['missed', 'm9:after']);
});

t.test('resumes from the last id after the stream ends or breaks, with backoff', async (t) => {
  const { fake, retry, log } = setup(t);
  let stream = eventStream(await fake.next());
  stream.write('id: m1\ndata: 1\n\n');
  stream.end();
  t.same((await retry(0)).error, { status: null, reason: 'the event stream ended' });
  let call = await fake.next();
  t.equal(since(call), 'm1', 'from the last id');
  call.fail(new TypeError('fetch failed'));
  t.equal((await retry(1)).retryAt, NOW + 20, 'no event since: the backoff goes on');
  call = await fake.next();
  stream = eventStream(call);
  stream.write('id: m1\ndata: 1\n\nid: m2\ndata: 2\n\n');
  await until(() => (log.length === 2 ? true : undefined));
  t.same(log, ['m1:1', 'm2:2'], 'the repeat from the overlap is dropped');
  stream.end();
  t.equal((await retry(2)).retryAt, NOW + 10, 'events reset the backoff');
});

t.test('an HTTP error or an answer that is not an event stream is a failure; 503 waits its Retry-After', async (t) => {
  const { fake, retry } = setup(t, { retryCap: 500 });
  (await fake.next()).respond(status(503, 'shutting down', { 'retry-after': '0.2' }));
  t.same(await retry(0), { retryAt: NOW + 200, error: { status: 503, reason: 'shutting down' } });
  eventStream(await fake.next(), { 'content-type': 'text/html' });
  t.same((await retry(1)).error, { status: 200, reason: 'not an event stream' });
  t.equal(since(await fake.next()), '0', 'the cursor has not moved');
});

t.test('close()', async (t) => {
  t.test('while connecting: aborts the request', async (t) => {
    const { fake, feed, states } = setup(t);
    const call = await fake.next();
    feed.close();
    feed.close();
    t.equal(call.init.signal.aborted, true);
    t.same(
      states.map((s) => s.state),
      [CLOSED],
      'closed once',
    );
  });

  t.test('while live: aborts the stream and delivers nothing more', async (t) => {
    const { fake, feed, log } = setup(t);
    const stream = eventStream(await fake.next());
    stream.write('id: m1\ndata: 1\n\n');
    await until(() => (log.length === 1 ? true : undefined));
    feed.close();
    t.equal(stream.aborted, true);
    await sleep(20);
    t.equal(fake.calls.length, 1, 'no new stream');
    t.equal(feed.state, CLOSED);
  });

  t.test('while reconnecting: clears the retry timer', async (t) => {
    const { fake, feed, retry } = setup(t, { retryBase: 60_000, retryCap: 60_000 });
    (await fake.next()).fail(new TypeError('fetch failed'));
    await retry(0);
    t.equal(
      timersClearedBy(() => feed.close()),
      1,
      'the pending timer no longer holds the event loop',
    );
    t.equal(fake.calls.length, 1);
  });

  t.test('from a listener, mid-chunk: nothing after it', async (t) => {
    const fake = fakeFetch();
    const seen: string[] = [];
    const feed: EventStreamFeed = new EventStreamFeed({
      base: BASE,
      fetch: fake.fetch,
      network: null,
      onMessage: (m) => {
        seen.push(m.id);
        feed.close();
      },
    });
    eventStream(await fake.next()).write('id: m1\ndata: 1\n\nid: m2\ndata: 2\n\n');
    await until(() => (seen.length ? true : undefined));
    await sleep(20);
    t.same(seen, ['m1']);
  });
});

t.test('states: connecting, live, reconnecting, connecting', async (t) => {
  const { fake, states } = setup(t);
  const stream = eventStream(await fake.next());
  stream.write('id: c\n\n');
  await until(() => (states.length === 1 ? true : undefined));
  stream.end();
  await fake.next();
  t.same(
    states.map((s) => s.state),
    [LIVE, RECONNECTING, CONNECTING],
  );
});
