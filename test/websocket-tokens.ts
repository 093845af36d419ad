import t from 'tap';
import WebSocket from 'ws';
import { forkServer } from './fixtures/server.js';
import { poll, publish, rawExchange } from './fixtures/http.js';

interface Frame {
  readonly type: string;
  readonly text?: string;
  readonly code?: string;
  readonly publish?: boolean;
}

/** A WebSocket that records its frames; `next(...types)` takes the first frame of those types not taken yet, waiting for one. */
async function open(t: { teardown(fn: () => void): void }, url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  t.teardown(() => ws.terminate());
  const frames: Frame[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const taken = new Set<number>();
  const next = async (...types: string[]): Promise<Frame> => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const at = frames.findIndex((f, i) => !taken.has(i) && types.includes(f.type));
      if (at !== -1) {
        taken.add(at);
        return frames[at]!;
      }
      if (Date.now() > deadline) throw new Error(`no ${types.join('/')} frame: ${JSON.stringify(frames)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const send = (frame: object) => ws.send(JSON.stringify(frame));
  return { ws, frames, next, send };
}

const ARGS = ['--subscribe-token', 'reader', '--publish-token', 'writer'];

t.test('with both tokens set, one WebSocket reads and publishes when its upgrade presents both', async (t) => {
  const { origin } = await forkServer(t, ARGS);
  const base = origin.replace('http:', 'ws:');
  const both = await open(t, `${base}/ws/both?access_token=reader&access_token=writer`);
  both.send({ type: 'publish', text: 'from the query' });
  t.equal((await both.next('published', 'error')).type, 'published', 'two access_token parameters grant both rights');
  t.equal((await both.next('message')).text, 'from the query', 'and it reads');

  const mixed = await open(t, `${base}/ws/both?since=0&access_token=reader`, { authorization: 'Bearer writer' });
  mixed.send({ type: 'publish', text: 'from the header' });
  t.equal((await mixed.next('published', 'error')).type, 'published', 'a bearer header and a query token add up');

  const readerOnly = await open(t, `${base}/ws/both?access_token=reader`);
  readerOnly.send({ type: 'publish', text: 'refused' });
  t.match(
    await readerOnly.next('published', 'error'),
    { type: 'error', code: 'unauthorized' },
    'the subscribe token alone does not publish',
  );
  t.match(
    await rawExchange(
      origin,
      'GET /ws/both?access_token=writer HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    ),
    /^HTTP\/1\.1 401 /,
    'the publish token alone does not read',
  );
});

t.test('an auth frame adds the rights of its token to an open connection', async (t) => {
  const { origin } = await forkServer(t, ARGS);
  const client = await open(t, `${origin.replace('http:', 'ws:')}/ws/late?access_token=reader`);
  client.send({ type: 'auth', token: 'wrong' });
  t.match(await client.next('authorized', 'error'), { type: 'error', code: 'unauthorized' }, 'a wrong token is refused');
  client.send({ type: 'auth', token: 'writer' });
  t.match(await client.next('authorized', 'error'), { type: 'authorized', publish: true });
  client.send({ type: 'publish', text: 'now allowed' });
  t.equal((await client.next('published', 'error')).type, 'published');
  t.equal((await client.next('message')).text, 'now allowed', 'the connection still reads');
  client.send({ type: 'auth' });
  t.match(await client.next('authorized', 'error'), { type: 'error', code: 'bad_request' }, 'an auth frame without a token is malformed');
});

t.test('HTTP requests are granted by any of the tokens they present', async (t) => {
  const { origin } = await forkServer(t, ARGS);
  const answer = await fetch(`${origin}/publish/h`, { method: 'POST', headers: { authorization: 'Bearer writer' }, body: 'hi' });
  t.equal(answer.status, 200);
  const read = await fetch(`${origin}/messages/h?since=0&access_token=writer&access_token=reader`);
  t.equal(read.status, 200, 'the right token need not come first');
  t.equal((await poll(origin, '0', 'h')).status, 401, 'none is still refused');
  await t.rejects(publish(origin, 'no token', 'h'), /401/);
});
