import t from 'tap';
import WebSocket from 'ws';
import { TRANSPORTS, createFeed } from '../src/client/feed.js';
import type { WebSocketConstructor } from '../src/client/feed.js';
import { checkName, declaredName, fromOf, isName } from '../src/http/identity.js';
import { decodeFrom, encodeFrom } from '../src/protocol.js';
import { forkServer } from './fixtures/server.js';
import { request } from './fixtures/http.js';
import { startRedis } from './fixtures/redis.js';
import { mint, SECRET } from './fixtures/tokens.js';

t.test('a name is 1 to 64 characters, without control or direction characters', async (t) => {
  for (const good of ['Azin', 'Ævar Þór', '李小龍', 'a'.repeat(64), '🦊'.repeat(64)]) t.ok(isName(good), good);
  for (const bad of [
    '',
    ' ',
    'a'.repeat(65),
    'tab\there',
    'new\nline',
    'nul\0',
    'del\x7f',
    'c1\x85',
    'rlo\u202eevil',
    'isolate\u2066x',
    'lone\ud800',
  ]) {
    t.notOk(isName(bad), JSON.stringify(bad));
    t.throws(() => checkName(bad), { code: 'bad_name', status: 400 });
  }
  t.equal(declaredName('Az%C3%ADn'), 'Azín', 'the header is UTF-8, percent-encoded');
  t.throws(() => declaredName('%E0%A4%A'), { code: 'bad_name' }, 'a broken escape is refused');
  t.equal(declaredName(undefined, new URLSearchParams('name=Bo')), 'Bo', 'or ?name=');
  t.same(
    fromOf({ id: 'u1', name: 'Azin' }, 'Mallory'),
    { id: 'u1', name: 'Azin', verified: true },
    'a verified identity wins over a declared name',
  );
  t.same(fromOf(undefined, 'Bo'), { name: 'Bo', verified: false });
  t.equal(fromOf(undefined, undefined), undefined);
});

t.test('from goes on one ASCII line, whatever the name holds, and comes back the same', async (t) => {
  const from = { id: 'u"1', name: 'Az\u00edn \u{1F98A} "quoted"\\', verified: true };
  const wire = encodeFrom(from);
  t.match(wire, /^[\x20-\x7e]+$/, 'printable ASCII only: safe for a header and an SSE field');
  t.same(decodeFrom(wire), from);
  t.equal(decodeFrom('{"name":1}'), undefined);
  t.equal(decodeFrom('not json'), undefined);
});

const NAME = 'Az%C3%ADn';
const AZIN = { name: 'Azín', verified: false };

async function sseText(origin: string, path: string, until: (text: string) => boolean): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(`${origin}${path}`, { signal: controller.signal });
  const reader = response.body!.getReader();
  let text = '';
  const decoder = new TextDecoder();
  while (!until(text)) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  controller.abort();
  return text;
}

t.test("on an open server, a declared name is every message's from, on every transport", async (t) => {
  const { origin } = await forkServer(t);
  const published = await request(origin, '/publish/room', { method: 'POST', body: 'hello', headers: { 'pollcast-name': NAME } });
  t.equal(published.status, 200);
  await request(origin, '/publish/room', { method: 'POST', body: 'anonymous' });

  const batch = JSON.parse((await request(origin, '/messages/room?since=0')).body) as { messages: { text: string; from?: unknown }[] };
  t.same(
    batch.messages.map((m) => m.from),
    [AZIN, undefined],
    'JSON batches carry it; a message without a name has none',
  );
  const plain = await request(origin, '/subscribe/room?since=0');
  t.same(decodeFrom(plain.headers['pollcast-from'] as string), AZIN, 'a plain-text answer has Pollcast-From');
  const sse = await sseText(origin, '/events/room?since=0', (text) => text.includes('data: anonymous'));
  t.match(sse, /from: \{"name":"Az\\u00edn","verified":false\}\ndata: hello\n/, 'an event stream has a from: field');

  const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws/room?since=0&name=Bo`);
  t.teardown(() => ws.terminate());
  const frames: { type: string; text?: string; from?: unknown; code?: string }[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data)) as (typeof frames)[number]));
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'publish', text: 'by frame' }));
  ws.send(JSON.stringify({ type: 'publish', text: 'renamed', name: 'Cy' }));
  ws.send(JSON.stringify({ type: 'publish', text: 'bad', name: 'x\u0007' }));
  while (frames.filter((f) => f.type === 'message').length < 4 || !frames.some((f) => f.type === 'error'))
    await new Promise((resolve) => setTimeout(resolve, 10));
  t.same(
    frames.filter((f) => f.type === 'message').map((f) => f.from),
    [AZIN, undefined, { name: 'Bo', verified: false }, { name: 'Cy', verified: false }],
    "WebSocket frames carry it: the name of the upgrade, or the frame's own",
  );
  t.match(
    frames.find((f) => f.type === 'error'),
    { code: 'bad_name' },
  );

  for (const bad of ['%00', 'a%0Ab', '%FF', 'x'.repeat(65)]) {
    const refused = await request(origin, '/publish/room', { method: 'POST', body: 'x', headers: { 'pollcast-name': bad } });
    t.same([refused.status, refused.headers['pollcast-error']], [400, 'bad_name'], `Pollcast-Name ${bad.slice(0, 10)}`);
  }
  t.equal((await request(origin, '/subscribe/room?since=0&name=%07')).status, 400, "a subscriber's name is checked too");
});

t.test("with a verified token, from is the token's and a declared name is ignored, in memory and on Redis", async (t) => {
  const redis = await startRedis(t);
  for (const args of [[], ['--redis', `redis://127.0.0.1:${redis.port}`]]) {
    const { origin } = await forkServer(t, ['--jwt-secret', SECRET, ...args]);
    const token = await mint({ sub: 'u1', name: 'Azin', subscribe: ['*'], publish: ['*'] });
    const auth = { authorization: `Bearer ${token}` };
    await request(origin, '/publish/room', { method: 'POST', body: 'signed', headers: { ...auth, 'pollcast-name': 'Mallory' } });
    const batch = JSON.parse((await request(origin, '/messages/room?since=0', { headers: auth })).body) as {
      messages: { from?: unknown }[];
    };
    t.same(
      batch.messages.map((m) => m.from),
      [{ id: 'u1', name: 'Azin', verified: true }],
      args.length ? 'on Redis' : 'in memory',
    );
    const cookie = await request(origin, '/messages/room?since=0', { headers: { cookie: `theme=dark; pollcast_token=${token}` } });
    t.equal(cookie.status, 200, 'the token may come in the pollcast_token cookie');
  }
});

t.test("at the token's exp, a held poll answers 401, a stream ends with event: expired, a WebSocket closes 4001", async (t) => {
  const { origin } = await forkServer(t, ['--jwt-secret', SECRET]);
  const token = await mint({ subscribe: ['*'], expiresIn: 2 });
  const started = Date.now();
  const [poll, sse, close] = await Promise.all([
    request(origin, `/subscribe/room?access_token=${token}`, { headers: { accept: 'application/json' } }),
    sseText(origin, `/events/room?access_token=${token}`, (text) => text.includes('event: expired')),
    new Promise<{ code: number; reason: string }>((resolve) => {
      const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws/room?access_token=${token}`);
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    }),
  ]);
  t.ok(Date.now() - started < 20_000, 'well before the poll timeout');
  t.same([poll.status, poll.headers['pollcast-error'], poll.body], [401, 'invalid_token', 'token expired\n']);
  t.match(poll.headers['www-authenticate'], 'error="invalid_token"');
  t.match(sse, /event: expired\ndata: \{"reason":"token expired"\}\n\n$/);
  t.same(close, { code: 4001, reason: 'token expired' });
});

t.test('every feed given getToken renews an expired token and resumes from its cursor: nothing lost, nothing doubled', async (t) => {
  const { origin } = await forkServer(t, ['--jwt-secret', SECRET, '--poll-timeout', '5000']);
  const writer = await mint({ publish: ['*'] });
  await Promise.all(
    TRANSPORTS.map(async (transport) => {
      const channel = `renew-${transport}`;
      let minted = 0;
      const received: string[] = [];
      const feed = createFeed({
        base: origin,
        channel,
        transport,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        pollInterval: 300,
        token: await mint({ subscribe: [channel], expiresIn: 2 }),
        getToken: () => (minted++, mint({ subscribe: [channel], expiresIn: 2 })),
        onMessage: (message) => received.push(message.text),
      });
      t.teardown(() => feed.close());
      const sent: string[] = [];
      for (let i = 0; i < 12; i++) {
        const text = `${transport} ${i}`;
        await request(origin, `/publish/${channel}`, { method: 'POST', body: text, headers: { authorization: `Bearer ${writer}` } });
        sent.push(text);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
      for (let i = 0; i < 100 && received.length < sent.length; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      t.same(received, sent, `${transport}: every message once, in order, across renewals`);
      t.ok(minted >= 1, `${transport}: getToken was asked (${minted} times)`);
    }),
  );
});
