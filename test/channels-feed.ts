import t from 'tap';
import WebSocket from 'ws';
import { ChannelsFeed } from '../src/client/channels-feed.js';
import { TRANSPORTS } from '../src/client/feed-options.js';
import type { WebSocketConstructor } from '../src/client/feed-options.js';
import { publish } from './fixtures/http.js';
import { forkServer } from './fixtures/server.js';
import { until } from './fixtures/wait.js';

t.test('one ChannelsFeed follows a changing set of channels on one connection, over each transport', async (t) => {
  const { origin } = await forkServer(t, ['--poll-timeout', '1000']);
  for (const transport of TRANSPORTS) {
    t.test(transport, async (t) => {
      const [a, b, c] = ['a', 'b', 'c'].map((name) => `${transport}-${name}`) as [string, string, string];
      await publish(origin, 'a0', a);
      await publish(origin, 'b0', b);
      const got: string[] = [];
      const missed: string[] = [];
      const feed = new ChannelsFeed({
        base: origin,
        transport,
        pollInterval: 50,
        network: null,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        onMessage: (channel, message) => got.push(`${channel.slice(-1)}:${message.text}`),
        onMissed: (channel) => missed.push(channel),
      });
      t.teardown(() => feed.close());
      feed.add(a);
      feed.add(b);
      await until(() => got.length === 2, 'both histories');
      t.same([...got].sort(), ['a:a0', 'b:b0']);
      await publish(origin, 'a1', a);
      await publish(origin, 'b1', b);
      await until(() => got.length === 4, 'live messages on both');
      feed.add(c);
      await publish(origin, 'c1', c);
      await until(() => got.includes('c:c1'), 'a channel added later, live');
      feed.remove(b);
      const left = feed.cursor(b);
      t.equal(left, undefined, 'a channel removed has no cursor');
      await publish(origin, 'b2', b);
      await publish(origin, 'a2', a);
      await until(() => got.includes('a:a2'), 'the others carry on');
      t.notOk(got.includes('b:b2'), 'nothing from a channel removed');
      feed.add(b);
      await until(() => got.includes('b:b2'), 'back on b');
      t.same(
        got.filter((text) => text.startsWith('b:')),
        ['b:b0', 'b:b1', 'b:b2'],
        'b again from its history, what was shown not shown twice',
      );
      t.same(
        got.filter((text) => text.startsWith('a:')),
        ['a:a0', 'a:a1', 'a:a2'],
        'a once, in order',
      );
      t.same(
        got.filter((text) => text.startsWith('c:')),
        ['c:c1'],
        'c once',
      );
      t.same(missed, []);
      t.equal(feed.state, 'live');
    });
  }
});
