/**
 * Tokens and presence on connections that carry several channels: the token's
 * expiry ends them as it ends a single channel's, and a subscriber is listed
 * on every channel of its set, for as long as it follows it.
 */

import t from 'tap';
import type { Test } from 'tap';
import WebSocket from 'ws';
import { ChannelsFeed } from '../src/client/channels-feed.js';
import { TRANSPORTS } from '../src/client/feed.js';
import type { WebSocketConstructor } from '../src/client/feed.js';
import { request } from './fixtures/http.js';
import { forkServer } from './fixtures/server.js';
import { mint, SECRET } from './fixtures/tokens.js';
import { until } from './fixtures/wait.js';

async function sseText(origin: string, path: string, done: (text: string) => boolean): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(`${origin}${path}`, { signal: controller.signal });
  const reader = response.body!.getReader();
  let text = '';
  const decoder = new TextDecoder();
  while (!done(text)) {
    const { done: ended, value } = await reader.read();
    if (ended) break;
    text += decoder.decode(value, { stream: true });
  }
  controller.abort();
  return text;
}

t.test("at the token's exp, a multi-channel stream ends with event: expired, a poll answers 401, a WebSocket closes 4001", async (t) => {
  const { origin } = await forkServer(t, ['--jwt-secret', SECRET, '--poll-timeout', '30000']);
  const token = await mint({ subscribe: ['*'], expiresIn: 2 });
  const started = Date.now();
  const [poll, sse, close] = await Promise.all([
    request(origin, `/subscribe?channels=a,b&access_token=${token}`),
    sseText(origin, `/events?channels=a,b&access_token=${token}`, (text) => text.includes('event: expired')),
    new Promise<{ code: number; reason: string }>((resolve) => {
      const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws?channels=a,b&access_token=${token}`);
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    }),
  ]);
  t.ok(Date.now() - started < 20_000, 'well before the poll timeout');
  t.same([poll.status, poll.headers['pollcast-error'], poll.body], [401, 'invalid_token', 'token expired\n']);
  t.match(sse, /^retry: \d+\nid: [^\n]+\n\n/, 'the stream had opened');
  t.match(sse, /event: expired\ndata: \{"reason":"token expired"\}\n\n$/, 'and ends with event: expired');
  t.same(close, { code: 4001, reason: 'token expired' });
});

t.test('the earliest expiry of the tokens that grant the set ends it', async (t) => {
  const { origin } = await forkServer(t, ['--jwt-secret', SECRET, '--poll-timeout', '30000']);
  const long = await mint({ subscribe: ['a'], expiresIn: 3600 });
  const short = await mint({ subscribe: ['b'], expiresIn: 2 });
  const tokens = `access_token=${long}&access_token=${short}`;
  const [poll, sse, close] = await Promise.all([
    request(origin, `/subscribe?channels=a,b&${tokens}`),
    sseText(origin, `/events?channels=a,b&${tokens}`, (text) => text.includes('event: expired')),
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws?channels=a,b&${tokens}`);
      ws.on('close', (code) => resolve(code));
    }),
  ]);
  t.equal(poll.status, 401, 'the right to b ended, and with it the poll');
  t.match(sse, /event: expired\n/, 'the stream');
  t.equal(close, 4001, 'and the socket');
});

async function here(origin: string, channel: string): Promise<string[]> {
  const answer = await request(origin, `/presence/${channel}`);
  if (answer.status !== 200) throw new Error(`presence answered ${answer.status}: ${answer.body}`);
  return (JSON.parse(answer.body) as { here: { name: string }[] }).here.map((from) => from.name).sort();
}

function eventually(origin: string, channel: string, expected: string[], what: string): Promise<string[]> {
  return until(
    async () => {
      const names = await here(origin, channel);
      return JSON.stringify(names) === JSON.stringify(expected) ? names : undefined;
    },
    what,
    8_000,
    { every: 50, describe: async () => `#${channel} lists ${JSON.stringify(await here(origin, channel))}` },
  );
}

function openSocket(t: Test, url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  t.teardown(() => ws.terminate());
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => ws.once('open', () => resolve(ws)).once('error', reject));
}

t.test('a subscriber on several channels is listed on each, on every transport, and released when it leaves', async (t) => {
  const { origin } = await forkServer(t, ['--poll-timeout', '300']);
  const stream = new AbortController();
  const sse = await fetch(`${origin}/events?channels=p1,p2&name=Bo`, { signal: stream.signal });
  t.equal(sse.status, 200);
  const ws = await openSocket(t, `${origin.replace('http', 'ws')}/ws?channels=p1,p3&name=Azin`);
  const polled = await request(origin, '/messages?channels=p2,p3&name=Cy');
  t.equal(polled.status, 200);
  const held = new AbortController();
  const longPoll = request(origin, '/subscribe?channels=p1,p2,p3&name=Dee', { signal: held.signal }).catch(() => undefined);

  await eventually(origin, 'p1', ['Azin', 'Bo', 'Dee'], 'p1: the event stream, the WebSocket and the long poll');
  await eventually(origin, 'p2', ['Bo', 'Cy', 'Dee'], 'p2: the event stream, the interval poll and the long poll');
  await eventually(origin, 'p3', ['Azin', 'Cy', 'Dee'], 'p3: the WebSocket, the interval poll and the long poll');
  t.pass('each subscriber is listed on every channel of its set');

  // A WebSocket's channels come and go: presence follows them.
  ws.send(JSON.stringify({ type: 'subscribe', channel: 'p4' }));
  ws.send(JSON.stringify({ type: 'unsubscribe', channel: 'p3' }));
  await eventually(origin, 'p4', ['Azin'], 'a channel subscribed by a frame lists the socket');
  await eventually(origin, 'p3', ['Cy', 'Dee'], 'a channel unsubscribed by a frame drops it');

  stream.abort();
  ws.close();
  held.abort();
  await longPoll;
  for (const channel of ['p1', 'p2', 'p3', 'p4']) await eventually(origin, channel, [], `#${channel} is empty once everyone left`);
  t.pass('the streams are released when they end, the polls after their timeout and grace');
});

t.test('a ChannelsFeed given getToken renews an expired token and resumes every channel: nothing lost, nothing doubled', async (t) => {
  const { origin } = await forkServer(t, ['--jwt-secret', SECRET, '--poll-timeout', '5000']);
  const writer = await mint({ publish: ['*'] });
  await Promise.all(
    TRANSPORTS.map(async (transport) => {
      const channels = [`r1-${transport}`, `r2-${transport}`];
      let minted = 0;
      const received = new Map<string, string[]>(channels.map((channel) => [channel, []]));
      const feed = new ChannelsFeed({
        base: origin,
        transport,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        pollInterval: 300,
        token: await mint({ subscribe: channels, expiresIn: 2 }),
        getToken: () => (minted++, mint({ subscribe: channels, expiresIn: 2 })),
        onMessage: (channel, message) => received.get(channel)!.push(message.text),
      });
      t.teardown(() => feed.close());
      for (const channel of channels) feed.add(channel);
      const sent = new Map<string, string[]>(channels.map((channel) => [channel, []]));
      for (let i = 0; i < 10; i++) {
        for (const channel of channels) {
          const text = `${channel} ${i}`;
          await request(origin, `/publish/${channel}`, { method: 'POST', body: text, headers: { authorization: `Bearer ${writer}` } });
          sent.get(channel)!.push(text);
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      await until(
        async () => (channels.every((channel) => received.get(channel)!.length >= 10) ? true : undefined),
        `${transport}: every message`,
        20_000,
        { describe: async () => JSON.stringify([...received]) },
      );
      t.same([...received], [...sent], `${transport}: every message of every channel once, in order, across renewals`);
      t.ok(minted >= 1, `${transport}: the token was renewed (${minted} time(s))`);
    }),
  );
});
