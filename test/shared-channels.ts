import t from 'tap';
import WebSocket from 'ws';
import type { WebSocketConstructor } from '../src/client/feed-options.js';
import { SharedChannels } from '../src/browser/shared-channels.js';
import { FakeLocks } from './fixtures/fakes.js';
import { publish, request } from './fixtures/http.js';
import { forkServer } from './fixtures/server.js';
import { until } from './fixtures/wait.js';

interface Tab {
  readonly rooms: SharedChannels;
  readonly got: Map<string, string[]>;
}

const waiting = async (origin: string): Promise<number> =>
  (JSON.parse((await request(origin, '/stats')).body) as { waiting: number }).waiting;

for (const transport of ['longpoll', 'eventsource', 'websocket'] as const) {
  t.test(`${transport}: tabs share one connection for the union of their channels, and survive the leading tab closing`, async (t) => {
    const { origin } = await forkServer(t, ['--poll-timeout', '2000']);
    const locks = new FakeLocks();
    const base = `${origin}/`;
    const open = (channels: string[]): Tab => {
      const got = new Map<string, string[]>();
      const rooms = new SharedChannels({
        base,
        transport,
        locks,
        network: null,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        onMessage: (channel, message) => got.set(channel, [...(got.get(channel) ?? []), message.text]),
      });
      t.teardown(() => rooms.close());
      for (const channel of channels) rooms.add(channel);
      return { rooms, got };
    };
    for (let i = 0; i < 4; i++) await publish(origin, `old${i}`, `s${i}`);
    const tabs = [open(['s0', 's1']), open(['s1', 's2']), open(['s3']), open(['s0', 's3'])];
    await until(
      () => tabs.every((tab) => [...tab.rooms.channels].every((channel) => tab.got.get(channel)?.length === 1)),
      "every tab has its channels' history",
    );
    t.equal(tabs.filter((tab) => tab.rooms.leading).length, 1, 'one tab leads');
    await until(async () => (await waiting(origin)) === 4, 'the server holds one waiter per channel of the union: one connection');
    const late = open(['s0']);
    await until(
      () => late.got.get('s0')?.length === 1 && late.rooms.state === 'live',
      'a tab opened once the connection is live has the history and says live',
    );
    late.rooms.close();

    for (let i = 0; i < 4; i++) await publish(origin, `new${i}`, `s${i}`);
    await until(
      () => tabs.every((tab) => tab.rooms.channels.every((channel) => tab.got.get(channel)?.length === 2)),
      'every live message in every tab that wants it',
    );
    t.same(tabs[2]!.got.get('s3'), ['old3', 'new3']);
    t.notOk(tabs[2]!.got.has('s0'), 'nothing of a channel a tab does not want');

    tabs[2]!.rooms.add('s2');
    await until(() => tabs[2]!.got.get('s2')?.length === 2, 'a tab joining a room gets what the connection brought so far');
    tabs[1]!.rooms.remove('s2');
    tabs[2]!.rooms.remove('s2');
    await until(async () => (await waiting(origin)) === 3, 'a channel no tab wants leaves the connection');

    const leader = tabs.find((tab) => tab.rooms.leading)!;
    leader.rooms.close();
    const rest = tabs.filter((tab) => tab !== leader);
    await until(() => rest.some((tab) => tab.rooms.leading), 'another tab takes the lead');
    for (let i = 0; i < 4; i++) await publish(origin, `after${i}`, `s${i}`);
    await until(
      () => rest.every((tab) => tab.rooms.channels.every((channel) => tab.got.get(channel)?.at(-1) === `after${channel.slice(1)}`)),
      'messages after the leader closed',
    );
    const after = open(['s0', 's3']);
    await until(
      () => after.got.get('s0')?.length === 3 && after.got.get('s3')?.length === 3,
      "a tab opened after the lead passed has each room's history from the new leading tab",
    );
    t.same(
      [after.got.get('s0'), after.got.get('s3')],
      [
        ['old0', 'new0', 'after0'],
        ['old3', 'new3', 'after3'],
      ],
    );
    for (const tab of rest) {
      for (const channel of tab.rooms.channels) {
        const texts = tab.got.get(channel)!;
        t.same(texts, [...new Set(texts)], `no message twice in ${channel}`);
        t.same(
          texts.slice(-3),
          [`old${channel.slice(1)}`, `new${channel.slice(1)}`, `after${channel.slice(1)}`].slice(-texts.length).slice(-3),
          `${channel} in order`,
        );
      }
    }
  });
}
