import t from 'tap';
import type { Test as Tap } from 'tap';
import { WebSocketFeed, parseFrame } from '../src/client/websocket-feed.js';
import type { FeedOptions } from '../src/client/feed-options.js';
import { CLOSED, CONNECTING, LIVE, OFFLINE } from '../src/client/reconnect.js';
import { NOW, fakeWebSockets, message, recorder, timersClearedBy } from './fixtures/fakes.js';
import type { FakeSocket } from './fixtures/fakes.js';
import { sleep } from './fixtures/wait.js';

const BASE = 'http://pollcast.test/app/';
const since = (socket: FakeSocket) => socket.url.searchParams.get('since');
const frame = (n: number) => ({ type: 'message', ...message(n) });

function setup(t: Tap, options: FeedOptions = {}) {
  const fake = fakeWebSockets();
  const { log, states, retry, options: quick } = recorder();
  const feed = new WebSocketFeed({ base: BASE, WebSocket: fake.WebSocket, ...quick, ...options });
  t.teardown(() => feed.close());
  return { feed, fake, log, states, retry };
}

t.test('connects to ws://…/ws[/channel]?since=, the token in the query (a browser cannot send headers)', async (t) => {
  const { fake } = setup(t, { channel: 'news', token: 'reader' });
  const socket = await fake.next();
  t.equal(socket.url.protocol, 'ws:');
  t.equal(socket.url.pathname, '/app/ws/news');
  t.equal(since(socket), '0');
  t.equal(socket.url.searchParams.get('access_token'), 'reader');
  const secure = setup(t, { base: 'https://pollcast.test' });
  t.equal((await secure.fake.next()).url.protocol, 'wss:');
});

t.test('refuses a relative base outside a page, a bad channel and a missing WebSocket at once', async (t) => {
  const { WebSocket } = fakeWebSockets();
  t.throws(() => new WebSocketFeed({ base: '.', WebSocket }), TypeError);
  t.throws(() => new WebSocketFeed({ base: BASE, channel: 'a b', WebSocket }), TypeError);
  t.throws(() => new WebSocketFeed({ base: BASE }), { message: /no WebSocket/ });
});

t.test('delivers message frames once, in order; cursor frames move the cursor; junk is ignored', async (t) => {
  const { fake, feed, log } = setup(t);
  const socket = await fake.next();
  socket.open();
  t.equal(feed.state, LIVE, 'live once open');
  socket.frame(frame(1));
  socket.frame(frame(2));
  socket.frame(frame(1));
  socket.frame('not json');
  socket.frame({ type: 'message', id: 3 });
  socket.frame({ type: 'published', id: 'x', time: 1 });
  socket.frame(frame(3));
  t.same(log, ['m1', 'm2', 'm3']);
  t.equal(feed.cursor, 'm3');
  socket.frame({ type: 'cursor', cursor: 'c9' });
  t.equal(feed.cursor, 'c9');
});

t.test('missed: said before what follows, and the cursor waits for the ids after it', async (t) => {
  const { fake, feed, log } = setup(t, { since: 'old' });
  const socket = await fake.next();
  socket.open();
  socket.frame({ type: 'missed', cursor: 'm5' });
  t.equal(feed.cursor, 'old');
  socket.frame(frame(5));
  t.same(log, ['missed', 'm5']);
});

t.test('resumes from the last cursor after a close, backing off until frames come again', async (t) => {
  const { fake, retry, log } = setup(t);
  let socket = await fake.next();
  socket.open();
  socket.frame(frame(1));
  socket.drop(1001, 'server shutting down');
  t.same(await retry(0), { retryAt: NOW + 10, error: { status: null, reason: 'server shutting down (1001)' } });
  socket = await fake.next();
  t.equal(since(socket), 'm1');
  socket.drop();
  t.same(await retry(1), { retryAt: NOW + 20, error: { status: null, reason: 'connection lost' } }, 'refused: backs off further');
  socket = await fake.next();
  socket.open();
  socket.drop();
  t.equal((await retry(2)).retryAt, NOW + 40, 'open without a frame proves nothing: still backing off');
  socket = await fake.next();
  socket.open();
  socket.frame(frame(1));
  socket.frame(frame(2));
  socket.drop();
  t.equal((await retry(3)).retryAt, NOW + 10, 'frames reset the backoff');
  t.same(log, ['m1', 'm2']);
});

t.test('a constructor that throws is a failure like any other', async (t) => {
  let made = 0;
  const Throwing = class {
    constructor() {
      made++;
      throw new SyntaxError('bad url');
    }
  } as unknown as FeedOptions['WebSocket'];
  const { retry } = setup(t, { WebSocket: Throwing });
  t.same((await retry(0)).error, { status: null, reason: 'bad url' });
  t.equal(made, 1);
});

t.test('close()', async (t) => {
  t.test('while connecting: closes the socket, stays closed even if it opens late', async (t) => {
    const { fake, feed, states } = setup(t);
    const socket = await fake.next();
    feed.close();
    feed.close();
    t.equal(socket.closedWith, 1000);
    socket.open();
    socket.frame(frame(1));
    t.same(
      states.map((s) => s.state),
      [CLOSED],
    );
    t.equal(socket.onmessage, null, "the socket's handlers are gone");
  });

  t.test('while live: closes the socket and opens no other', async (t) => {
    const { fake, feed, log } = setup(t);
    const socket = await fake.next();
    socket.open();
    feed.close();
    socket.drop(1000);
    await sleep(30);
    t.equal(fake.sockets.length, 1);
    t.same(log, []);
    t.equal(feed.state, CLOSED);
  });

  t.test('while reconnecting: clears the retry timer', async (t) => {
    const { fake, feed, retry } = setup(t, { retryBase: 60_000, retryCap: 60_000 });
    (await fake.next()).drop();
    await retry(0);
    t.equal(
      timersClearedBy(() => feed.close()),
      1,
      'the pending timer no longer holds the event loop',
    );
  });
});

t.test('offline closes the socket; online opens another from the same cursor', async (t) => {
  const network = new EventTarget();
  const { fake, feed } = setup(t, { network });
  const socket = await fake.next();
  socket.open();
  socket.frame(frame(1));
  network.dispatchEvent(new Event('offline'));
  t.equal(feed.state, OFFLINE);
  t.equal(socket.closedWith, 1000);
  network.dispatchEvent(new Event('online'));
  t.equal(feed.state, CONNECTING);
  t.equal(since(await fake.next(50)), 'm1');
});

t.test('parseFrame', async (t) => {
  t.same(parseFrame('{"type":"message","id":"a","text":"t","time":1,"extra":true}'), {
    type: 'message',
    message: { id: 'a', text: 't', time: 1 },
  });
  t.same(parseFrame('{"type":"missed","cursor":"x"}'), { type: 'missed' });
  t.same(parseFrame('{"type":"cursor","cursor":"x"}'), { type: 'cursor', cursor: 'x' });
  for (const junk of ['', 'null', '[]', '"message"', '{"type":"cursor"}', '{"type":"message","id":"a","text":"t"}', '{"type":"error"}']) {
    t.equal(parseFrame(junk), null, junk);
  }
});
