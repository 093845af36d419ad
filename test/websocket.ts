import t from 'tap';
import WebSocket from 'ws';
import { forkServer } from './fixtures/server.js';
import { publish, rawExchange, request, waitForWaiting } from './fixtures/http.js';
import { until as waitUntil } from './fixtures/wait.js';

interface Frame {
  readonly type: string;
  readonly id?: string;
  readonly text?: string;
  readonly key?: string;
  readonly code?: string;
  readonly cursor?: string;
}

/** A WebSocket client that records every frame it gets. */
async function connectWs(t: { teardown(fn: () => void): void }, url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  t.teardown(() => ws.terminate());
  const frames: Frame[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const until = (probe: () => boolean, what: string) => waitUntil(probe, what, 5_000, { describe: () => JSON.stringify(frames) });
  const texts = () => frames.filter((f) => f.type === 'message').map((f) => f.text);
  return { ws, frames, closed, until, texts };
}

const wsOrigin = (origin: string) => origin.replace('http:', 'ws:');

t.test('a WebSocket resumes from ?since and then gets each message as a JSON frame', async (t) => {
  const { origin } = await forkServer(t);
  const first = await publish(origin, 'one', 'room');
  await publish(origin, 'two\nlines', 'room');
  const client = await connectWs(t, `${wsOrigin(origin)}/ws/room?since=${first}`);
  await client.until(() => client.texts().length === 1, 'the history after the cursor');
  t.same(client.texts(), ['two\nlines']);
  await waitForWaiting(origin, 1);
  const id = await publish(origin, 'three', 'room');
  await client.until(() => client.texts().length === 2, 'the live message');
  const last = client.frames.filter((f) => f.type === 'message').at(-1)!;
  t.match(last, { type: 'message', id, text: 'three', time: Number });
});

t.test('a client publishes over the socket and gets its id; a repeated key is not doubled', async (t) => {
  const { origin } = await forkServer(t);
  const writer = await connectWs(t, `${wsOrigin(origin)}/ws/chat?since=0`);
  const reader = await connectWs(t, `${wsOrigin(origin)}/ws/chat?since=0`);
  await waitForWaiting(origin, 2);
  writer.ws.send(JSON.stringify({ type: 'publish', text: 'hello', key: 'k-1' }));
  writer.ws.send(JSON.stringify({ type: 'publish', text: 'hello', key: 'k-1' }));
  await writer.until(() => writer.frames.filter((f) => f.type === 'published').length === 2, 'both answers');
  const [a, b] = writer.frames.filter((f) => f.type === 'published');
  t.equal(a!.key, 'k-1');
  t.equal(a!.id, b!.id, 'the retry is answered with the first id');
  await reader.until(() => reader.texts().length === 1, 'the message');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(reader.texts(), ['hello'], 'once');

  writer.ws.send('not json');
  writer.ws.send(JSON.stringify({ type: 'publish', text: '' }));
  await writer.until(() => writer.frames.filter((f) => f.type === 'error').length === 2, 'two errors');
  t.same(
    writer.frames.filter((f) => f.type === 'error').map((f) => f.code),
    ['bad_request', 'empty_body'],
  );
});

t.test('missed is a frame of its own', async (t) => {
  const { origin } = await forkServer(t, ['--history', '1']);
  const first = await publish(origin, 'a', 'gap');
  await publish(origin, 'b', 'gap');
  await publish(origin, 'c', 'gap');
  const client = await connectWs(t, `${wsOrigin(origin)}/ws/gap?since=${first}`);
  await client.until(() => client.texts().length === 1, 'what is kept');
  t.equal(client.frames[0]!.type, 'missed');
  t.same(client.texts(), ['c']);
});

t.test('a publish token is needed to publish over the socket, not to read', async (t) => {
  const { origin } = await forkServer(t, ['--publish-token', 'writer']);
  const anonymous = await connectWs(t, `${wsOrigin(origin)}/ws?since=0`);
  anonymous.ws.send(JSON.stringify({ type: 'publish', text: 'x' }));
  await anonymous.until(() => anonymous.frames.some((f) => f.type === 'error'), 'the refusal');
  t.equal(anonymous.frames.find((f) => f.type === 'error')!.code, 'unauthorized');
  const allowed = await connectWs(t, `${wsOrigin(origin)}/ws?since=0`, { authorization: 'Bearer writer' });
  allowed.ws.send(JSON.stringify({ type: 'publish', text: 'x' }));
  await allowed.until(() => allowed.frames.some((f) => f.type === 'published'), 'the id');
});

t.test('shutdown closes every socket with 1001 and a reason', async (t) => {
  const server = await forkServer(t);
  const client = await connectWs(t, `${wsOrigin(server.origin)}/ws`);
  await waitForWaiting(server.origin, 1);
  server.child.send('shutdown');
  t.same(await client.closed, { code: 1001, reason: 'server shutting down' });
  t.equal(await server.exited, 0);
});

t.test('a bad cursor closes with 1008; bad upgrades get HTTP errors', async (t) => {
  const { origin } = await forkServer(t, ['--subscribe-token', 'reader']);
  const bad = await connectWs(t, `${wsOrigin(origin)}/ws?since=nonsense&access_token=reader`);
  t.equal((await bad.closed).code, 1008);
  const upgrade = (path: string) =>
    rawExchange(
      origin,
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
  t.match(await upgrade('/ws?access_token=reader&since=0'), /^HTTP\/1\.1 101 /);
  t.match(await upgrade('/ws'), /^HTTP\/1\.1 401 [^]*a valid bearer token is required/);
  t.match(await upgrade('/elsewhere'), /^HTTP\/1\.1 404 /);
  t.match(await upgrade('/ws/bad%20name?access_token=reader'), /^HTTP\/1\.1 400 /);
  await waitForWaiting(origin, 0, undefined, 'reader');
  t.equal((await request(origin, '/stats?access_token=reader')).status, 200);
});
