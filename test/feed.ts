import t from 'tap';
import type { Test as Tap } from 'tap';
import { WebSocket } from 'ws';
import { EventStreamFeed } from '../src/client/event-stream-feed.js';
import { TRANSPORTS, createFeed, isTransport } from '../src/client/feed.js';
import type { Feed, FeedOptions, Transport } from '../src/client/feed.js';
import { IntervalPollFeed } from '../src/client/interval-poll-feed.js';
import { LongPollFeed } from '../src/client/long-poll-feed.js';
import { LIVE, RECONNECTING } from '../src/client/reconnect.js';
import { WebSocketFeed } from '../src/client/websocket-feed.js';
import type { Message } from '../src/protocol.js';
import { fakeFetch, fakeWebSockets } from './fixtures/fakes.js';
import { publish } from './fixtures/http.js';
import { startProxy } from './fixtures/proxy.js';
import { forkServer } from './fixtures/server.js';
import { until } from './fixtures/wait.js';

t.test('createFeed picks the transport, long polling by default', async (t) => {
  const { fetch } = fakeFetch();
  const { WebSocket: FakeWebSocket } = fakeWebSockets();
  const kinds: Record<Transport, unknown> = {
    longpoll: LongPollFeed,
    eventsource: EventStreamFeed,
    websocket: WebSocketFeed,
    poll: IntervalPollFeed,
  };
  for (const transport of TRANSPORTS) {
    const feed = createFeed({ base: 'http://pollcast.test', transport, fetch, WebSocket: FakeWebSocket, network: null });
    t.teardown(() => feed.close());
    t.type(feed, kinds[transport] as new () => object, transport);
  }
  const plain = createFeed({ base: 'http://pollcast.test', fetch, network: null });
  t.teardown(() => plain.close());
  t.type(plain, LongPollFeed, 'default');
  t.throws(() => createFeed({ fetch, transport: 'carrier-pigeon' as Transport }), { message: /unknown transport/ });
});

t.test('isTransport', async (t) => {
  for (const transport of TRANSPORTS) t.ok(isTransport(transport), transport);
  for (const other of ['', 'LONGPOLL', 'ws', 'sse', 'toString', 'constructor']) t.notOk(isTransport(other), JSON.stringify(other));
});

/** A feed on the real server that records what it delivers. */
function follow(t: Tap, options: FeedOptions) {
  const texts: string[] = [];
  const ids: string[] = [];
  let missed = 0;
  const feed: Feed = createFeed({
    WebSocket,
    network: null,
    retryBase: 50,
    retryCap: 200,
    pollInterval: 50,
    ...options,
    onMessage: (m: Message) => {
      texts.push(m.text);
      ids.push(m.id);
    },
    onMissed: () => missed++,
  });
  t.teardown(() => feed.close());
  const count = (n: number) => until(() => (texts.length >= n ? true : undefined), `${n} texts`, 10_000);
  return { feed, texts, ids, count, missed: () => missed };
}

for (const transport of TRANSPORTS) {
  t.test(`${transport} against the real server`, async (t) => {
    t.test('the history, then live messages, with a subscribe token', async (t) => {
      const server = await forkServer(t, ['--subscribe-token', 'reader', '--poll-timeout', '1000']);
      await publish(server.origin, 'one', 'room');
      await publish(server.origin, 'two\r\nlines', 'room');
      const { feed, texts, ids, count } = follow(t, { base: server.origin, channel: 'room', transport, token: 'reader' });
      await count(2);
      await until(() => feed.state === LIVE, 'live');
      const id = await publish(server.origin, 'three 👋', 'room');
      await publish(server.origin, 'elsewhere');
      await count(3);
      // An event stream has one kind of line end: CRLF comes out as LF.
      const two = transport === 'eventsource' ? 'two\nlines' : 'two\r\nlines';
      t.same(texts, ['one', two, 'three 👋'], 'in order, once, this channel only');
      t.equal(ids[2], id);
      t.equal(feed.cursor, id, 'the cursor is the last id');
    });

    t.test('a wrong token is a failure, retried', async (t) => {
      const server = await forkServer(t, ['--subscribe-token', 'reader']);
      const { feed } = follow(t, { base: server.origin, transport, token: 'wrong' });
      await until(() => feed.state === RECONNECTING, 'reconnecting');
      t.pass('reconnecting');
    });

    t.test('connections cut by a proxy: resumed from the cursor, nothing lost or doubled', async (t) => {
      const server = await forkServer(t, ['--poll-timeout', '1000']);
      const proxy = await startProxy(t, server.port);
      const { feed, texts, count } = follow(t, { base: proxy.origin, transport });
      await publish(server.origin, 'a');
      await count(1);
      const sent = ['a'];
      for (let round = 1; round <= 3; round++) {
        await until(() => feed.state === LIVE, 'live');
        proxy.cut();
        sent.push(`b${round}`, `c${round}`);
        await publish(server.origin, `b${round}`);
        await publish(server.origin, `c${round}`);
        await count(sent.length);
      }
      t.same(texts, sent);
      t.ok(proxy.counts.cut >= 3, 'the cuts closed connections');
    });

    t.test('a server restart: missed, then carries on', async (t) => {
      const first = await forkServer(t);
      const { feed, texts, count, missed } = follow(t, { base: first.origin, transport });
      await publish(first.origin, 'before');
      await count(1);
      await first.stop();
      await until(() => feed.state === RECONNECTING, 'reconnecting');
      const second = await forkServer(t);
      // A cursor of the first run given to the second, as a page would across a restart.
      const again = follow(t, { base: second.origin, transport, since: feed.cursor });
      await publish(second.origin, 'after');
      await again.count(1);
      t.equal(again.missed(), 1, 'missed, once');
      t.same(again.texts, ['after']);
      t.same(texts, ['before']);
      t.equal(missed(), 0);
    });
  });
}
