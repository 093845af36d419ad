import t from 'tap';
import WebSocket from 'ws';
import { decodeChannelBatches } from '../src/channel-set.js';
import { EventStreamParser } from '../src/client/event-stream.js';
import type { StreamEvent } from '../src/client/event-stream.js';
import { publish, request, waitForWaiting } from './fixtures/http.js';
import { forkServer } from './fixtures/server.js';
import { until } from './fixtures/wait.js';

const texts = (body: string, channel: string): string[] =>
  decodeChannelBatches(body)
    .get(channel)!
    .messages.map((m) => m.text);
const cursorOf = (body: string, channel: string): string => decodeChannelBatches(body).get(channel)!.cursor;

t.test('the long poll over several channels', async (t) => {
  const { origin } = await forkServer(t, ['--poll-timeout', '600']);

  t.test('parks on every channel and answers with the one that has news, the others at their position', async (t) => {
    const pending = request(origin, '/subscribe?channels=la,lb,lc');
    await waitForWaiting(origin, 3);
    await publish(origin, 'b1', 'lb');
    const answer = await pending;
    t.equal(answer.status, 200);
    t.equal(answer.headers['content-type'], 'application/json');
    const batches = decodeChannelBatches(answer.body);
    t.same([...batches.keys()], ['la', 'lb', 'lc'], 'a batch for every channel, in the order asked');
    t.same(texts(answer.body, 'lb'), ['b1']);
    t.same(texts(answer.body, 'la'), []);
    t.equal(cursorOf(answer.body, 'la'), cursorOf(answer.body, 'lc'), 'the quiet channels carry the position they waited from');
    await waitForWaiting(origin, 0);

    await publish(origin, 'a1', 'la');
    await publish(origin, 'c1', 'lc');
    const since = ['la', 'lb', 'lc'].map((channel) => `since=${channel}:${encodeURIComponent(cursorOf(answer.body, channel))}`).join('&');
    const next = await request(origin, `/subscribe?channels=la,lb,lc&${since}`);
    t.same(
      [texts(next.body, 'la'), texts(next.body, 'lb'), texts(next.body, 'lc')],
      [['a1'], [], ['c1']],
      'what came meanwhile, on two channels at once',
    );
  });

  t.test('a hang-up and a timeout leave nothing parked; the timeout answers every position', async (t) => {
    const cut = new AbortController();
    const pending = request(origin, '/subscribe?channels=ta,tb', { signal: cut.signal }).catch(() => undefined);
    await waitForWaiting(origin, 2);
    cut.abort();
    await pending;
    await waitForWaiting(origin, 0);
    const answer = await request(origin, '/subscribe?channels=ta,tb');
    t.equal(answer.status, 200);
    t.same([texts(answer.body, 'ta'), texts(answer.body, 'tb')], [[], []]);
    await waitForWaiting(origin, 0);
  });

  t.test('since=0 on one channel answers its history at once, with the others', async (t) => {
    await publish(origin, 'h1', 'ha');
    const answer = await request(origin, '/subscribe?channels=ha,hb&since=ha:0');
    t.same(texts(answer.body, 'ha'), ['h1']);
    await waitForWaiting(origin, 0);
  });

  t.test('/messages answers at once with a batch per channel', async (t) => {
    await publish(origin, 'm1', 'ma');
    const answer = await request(origin, '/messages?channels=ma,mb&since=ma:0,mb:0');
    t.equal(answer.status, 200);
    t.same([texts(answer.body, 'ma'), texts(answer.body, 'mb')], [['m1'], []]);
  });
});

t.test('bad sets are refused with their code, and nothing stays parked', async (t) => {
  const { origin } = await forkServer(t, ['--max-channels-per-connection', '2']);
  const cases: [string, number, string][] = [
    ['/subscribe?channels=a,b,c', 400, 'too_many_subscriptions'],
    ['/events?channels=a,b,c', 400, 'too_many_subscriptions'],
    ['/messages?channels=a,b,c', 400, 'too_many_subscriptions'],
    ['/subscribe/a?channels=b', 400, 'bad_request'],
    ['/subscribe?channels=a,a', 400, 'bad_channel'],
    ['/subscribe?channels=a,b%20c', 400, 'bad_channel'],
    ['/subscribe?channels=a&since=b:0', 400, 'bad_cursor'],
    ['/subscribe?channels=a,b&since=b:nonsense', 400, 'bad_cursor'],
    ['/events?channels=a,b&since=a:0,b:nonsense', 400, 'bad_cursor'],
    ['/messages?channels=a&since=a:nonsense', 400, 'bad_cursor'],
  ];
  for (const [path, status, code] of cases) {
    const answer = await request(origin, path);
    t.same([answer.status, answer.headers['pollcast-error']], [status, code], path);
  }
  const stale = await request(origin, '/events?channels=a,b', { headers: { 'last-event-id': 'run-,1' } });
  t.same([stale.status, stale.headers['pollcast-error']], [400, 'bad_cursor'], 'a Last-Event-ID for another number of channels');
  t.equal(JSON.parse((await request(origin, '/stats')).body).waiting, 0, 'the channels parked before a bad cursor were let go');
});

t.test('with a subscribe token, every channel of the set needs it', async (t) => {
  const { origin } = await forkServer(t, ['--subscribe-token', 'reader']);
  t.equal((await request(origin, '/messages?channels=a,b')).status, 401);
  t.equal((await request(origin, '/messages?channels=a,b&access_token=reader')).status, 200);
});

/** Reads an event stream over fetch until `enough` says so; returns the events and the last id. */
async function readEvents(
  url: string,
  headers: Record<string, string>,
  enough: (events: StreamEvent[]) => boolean,
): Promise<StreamEvent[]> {
  const cut = new AbortController();
  const events: StreamEvent[] = [];
  const answer = await fetch(url, { headers, signal: cut.signal });
  const parser = new EventStreamParser((event) => events.push(event));
  try {
    for await (const chunk of answer.body!) {
      parser.push(chunk as Uint8Array);
      if (enough(events)) break;
    }
  } finally {
    cut.abort();
  }
  return events;
}

t.test('event stream over several channels', async (t) => {
  const { origin } = await forkServer(t);
  await publish(origin, 'one', 'ea');
  await publish(origin, 'two\nlines', 'eb');
  const first = await readEvents(`${origin}/events?channels=ea,eb&since=ea:0,eb:0`, {}, (events) => events.length === 2);
  t.same(
    first.map((event) => JSON.parse(event.data) as { channel: string; text: string }).map(({ channel, text }) => [channel, text]),
    [
      ['ea', 'one'],
      ['eb', 'two\nlines'],
    ],
    'each message tagged with its channel, a multi-line text intact',
  );
  await publish(origin, 'three', 'eb');
  await publish(origin, 'four', 'ea');
  const resumed = await readEvents(
    `${origin}/events?channels=ea,eb&since=ea:0,eb:0`,
    { 'last-event-id': first[1]!.lastEventId },
    (events) => events.length === 2,
  );
  t.same(
    resumed.map((event) => (JSON.parse(event.data) as { text: string }).text).sort(),
    ['four', 'three'],
    'Last-Event-ID alone resumes every channel, and wins over since=',
  );
  await waitForWaiting(origin, 0);
});

/** A WebSocket that records every frame. */
async function openSocket(url: string): Promise<{ ws: WebSocket; frames: Record<string, unknown>[] }> {
  const ws = new WebSocket(url);
  const frames: Record<string, unknown>[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, frames };
}

t.test('WebSocket over several channels: subscribe and unsubscribe at any time', async (t) => {
  const { origin } = await forkServer(t, ['--max-channels-per-connection', '3']);
  const base = origin.replace('http', 'ws');
  await publish(origin, 'old', 'wa');
  const { ws, frames } = await openSocket(`${base}/ws?channels=wa,wb&since=wa:0`);
  t.teardown(() => ws.terminate());
  const of = (type: string, channel?: string) =>
    frames.filter((frame) => frame.type === type && (channel === undefined || frame.channel === channel));
  await until(() => of('message', 'wa').length === 1 && of('subscribed').length === 2, 'the history and both subscriptions');
  t.equal(of('message', 'wa')[0]!.text, 'old');

  ws.send(JSON.stringify({ type: 'subscribe', channel: 'wc' }));
  await until(() => of('subscribed', 'wc').length === 1, 'wc subscribed');
  await publish(origin, 'to c', 'wc');
  await until(() => of('message', 'wc').length === 1, 'the message on wc');

  ws.send(JSON.stringify({ type: 'unsubscribe', channel: 'wb' }));
  await until(() => of('unsubscribed', 'wb').length === 1, 'wb unsubscribed');
  const left = of('unsubscribed', 'wb')[0]!.cursor as string;
  await publish(origin, 'b while away', 'wb');
  ws.send(JSON.stringify({ type: 'publish', channel: 'wa', text: 'from the socket' }));
  await until(() => of('message', 'wa').length === 2, 'its own publish, on the channel it named');
  t.same(of('message', 'wb'), [], 'nothing from a channel it left');
  ws.send(JSON.stringify({ type: 'subscribe', channel: 'wb', since: left }));
  await until(() => of('message', 'wb').length === 1, 'back on wb from its cursor');
  t.equal(of('message', 'wb')[0]!.text, 'b while away', 'what came while away, once');

  ws.send(JSON.stringify({ type: 'subscribe', channel: 'wd' }));
  ws.send(JSON.stringify({ type: 'subscribe', channel: 'wa' }));
  ws.send(JSON.stringify({ type: 'subscribe', channel: 'bad name' }));
  ws.send(JSON.stringify({ type: 'unsubscribe', channel: 'nope' }));
  await until(() => of('error').length === 4, 'four refusals');
  t.same(
    of('error').map((frame) => [frame.channel, frame.code]),
    [
      ['wd', 'too_many_subscriptions'],
      ['wa', 'bad_request'],
      ['bad name', 'bad_channel'],
      ['nope', 'bad_request'],
    ],
  );
  ws.send(JSON.stringify({ type: 'unsubscribe', channel: 'wc' }));
  ws.send(JSON.stringify({ type: 'subscribe', channel: 'we', since: 'nonsense' }));
  await until(() => of('error').length === 5, 'a bad cursor refused for its channel only');
  t.same([of('error')[4]!.channel, of('error')[4]!.code], ['we', 'bad_cursor']);
  await publish(origin, 'still here', 'wa');
  await until(() => of('message', 'wa').length === 3, 'the other channels carry on');
  ws.terminate();
  await waitForWaiting(origin, 0);
});

t.test('a single-channel WebSocket refuses subscribe frames', async (t) => {
  const { origin } = await forkServer(t);
  const { ws, frames } = await openSocket(`${origin.replace('http', 'ws')}/ws/one`);
  t.teardown(() => ws.terminate());
  ws.send(JSON.stringify({ type: 'subscribe', channel: 'two' }));
  await until(() => frames.some((frame) => frame.type === 'error'), 'an error');
  t.equal(frames.find((frame) => frame.type === 'error')!.code, 'bad_request');
});
