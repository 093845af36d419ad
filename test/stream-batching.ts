import { connect } from 'node:net';
import type { Socket } from 'node:net';
import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { request, waitForWaiting } from './fixtures/http.js';
import { until } from './fixtures/wait.js';
import { RawWebSocket } from './fixtures/ws-raw.js';

/*
 * Streams that batch: what is ready for one connection in one turn of the
 * event loop goes out in one write. A burst of pipelined publishes, parsed
 * by the server from one read, is what one turn holds.
 */

const BURST = 50;

/** An event stream read over a raw socket: the HTTP chunks of its body, each one write of the server's. */
class RawEventStream {
  readonly chunks: string[] = [];
  #head = true;
  #pending = Buffer.alloc(0);

  readonly socket: Socket;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (data: Buffer) => this.#take(data));
  }

  static open(port: number, path: string): RawEventStream {
    const socket = connect(port, '127.0.0.1');
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    return new RawEventStream(socket);
  }

  /** The body as the client has it. */
  get text(): string {
    return this.chunks.join('');
  }

  #take(data: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, data]);
    if (this.#head) {
      const end = this.#pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.#head = false;
      this.#pending = this.#pending.subarray(end + 4);
    }
    for (;;) {
      const line = this.#pending.indexOf('\r\n');
      if (line === -1) return;
      const size = Number.parseInt(this.#pending.subarray(0, line).toString('latin1'), 16);
      if (this.#pending.length < line + 2 + size + 2) return;
      this.chunks.push(this.#pending.subarray(line + 2, line + 2 + size).toString('utf8'));
      this.#pending = this.#pending.subarray(line + 2 + size + 2);
    }
  }
}

/** `count` publishes to `channel` pipelined on one connection in one write; resolves with the ids answered, in order. */
function publishBurst(port: number, channel: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answers = '';
    let requests = '';
    for (let i = 0; i < count; i++) {
      const body = `burst ${i}`;
      requests += `POST /publish/${channel} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    }
    socket.on('data', (data: Buffer) => {
      answers += data.toString('utf8');
      const ids = [...answers.matchAll(/"id":"([^"]+)"/g)].map((match) => match[1]!);
      if (ids.length < count) return;
      socket.end();
      resolve(ids);
    });
    socket.on('error', reject);
    socket.write(requests);
  });
}

/** The value of one sample in a `/metrics` text, 0 when absent. */
async function sample(origin: string, name: string): Promise<number> {
  const text = (await request(origin, '/metrics')).body;
  const line = text.split('\n').find((entry) => entry.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

const SSE_WRITES = 'pollcast_stream_writes_total{transport="sse"}';
const WS_WRITES = 'pollcast_stream_writes_total{transport="websocket"}';

t.test('a burst published in one turn reaches an event stream and a WebSocket in a few writes, in order, with its ids', async (t) => {
  const { origin, port } = await forkServer(t);
  const sse = RawEventStream.open(port, '/events/burst');
  t.teardown(() => sse.socket.destroy());
  const ws = await RawWebSocket.open(port, '/ws/burst');
  t.teardown(() => ws.socket.destroy());
  await waitForWaiting(origin, 2);
  await until(() => sse.chunks.length > 0, 'the stream opened');
  const opening = sse.chunks.length;
  const sseBefore = await sample(origin, SSE_WRITES);
  const wsBefore = await sample(origin, WS_WRITES);

  const ids = await publishBurst(port, 'burst', BURST);
  t.equal(ids.length, BURST);

  const messages = () => ws.json().filter((frame) => frame.type === 'message');
  await until(() => messages().length >= BURST && (sse.text.match(/\ndata: burst /g) ?? []).length >= BURST, 'the burst arrived');

  // Order and ids as published, once each.
  const sseEvents = [...sse.text.matchAll(/id: ([^\n]+)\ntime: \d+\ndata: (burst \d+)\n\n/g)].map((match) => [match[1], match[2]]);
  const expected = ids.map((id, i) => [id, `burst ${i}`]);
  t.same(sseEvents, expected, 'the event stream has every message once, in order, with its id');
  t.same(
    messages().map((frame) => [frame.id, frame.text]),
    expected,
    'the WebSocket has every message once, in order, with its id',
  );
  t.notOk(sse.text.includes('event: missed'), 'nothing is missed');
  t.notOk(
    ws.json().some((frame) => frame.type === 'missed'),
    'nothing is missed',
  );

  // One write per message would be 50 of each; the server parsed the burst from one or a few reads.
  const sseChunks = sse.chunks.length - opening;
  t.ok(sseChunks <= BURST / 5, `the event stream got ${sseChunks} HTTP chunks for ${BURST} messages`);
  const sseWrites = (await sample(origin, SSE_WRITES)) - sseBefore;
  const wsWrites = (await sample(origin, WS_WRITES)) - wsBefore;
  t.ok(sseWrites >= 1 && sseWrites <= BURST / 5, `the event stream took ${sseWrites} writes`);
  t.ok(wsWrites >= 1 && wsWrites <= BURST / 5, `the WebSocket took ${wsWrites} writes`);
});

t.test('streams at one cursor and streams behind it each get the burst once, in order', async (t) => {
  const { origin, port } = await forkServer(t, ['--history', '1000']);
  const first = await publishBurst(port, 'mixed', 3);
  // Two streams at the head, two from the start (they take the history, then the burst).
  const atHead = [RawEventStream.open(port, '/events/mixed'), RawEventStream.open(port, '/events/mixed')];
  const fromStart = [RawEventStream.open(port, '/events/mixed?since=0'), RawEventStream.open(port, '/events/mixed?since=0')];
  const sockets = [await RawWebSocket.open(port, '/ws/mixed'), await RawWebSocket.open(port, '/ws/mixed?since=0')];
  for (const stream of [...atHead, ...fromStart]) t.teardown(() => stream.socket.destroy());
  for (const socket of sockets) t.teardown(() => socket.socket.destroy());
  await waitForWaiting(origin, 6);
  const ids = [...first, ...(await publishBurst(port, 'mixed', BURST))];
  const texts = ids.map((_, i) => (i < 3 ? `burst ${i}` : `burst ${i - 3}`));
  const sseOf = (stream: RawEventStream) =>
    [...stream.text.matchAll(/id: ([^\n]+)\ntime: \d+\ndata: (burst \d+)\n\n/g)].map((match) => [match[1], match[2]]);
  const wsOf = (socket: RawWebSocket) =>
    socket
      .json()
      .filter((frame) => frame.type === 'message')
      .map((frame) => [frame.id, frame.text]);
  await until(
    () =>
      [...atHead, ...fromStart].every((stream) => sseOf(stream).length >= BURST) && sockets.every((socket) => wsOf(socket).length >= BURST),
    'every stream has the burst',
  );
  const all = ids.map((id, i) => [id, texts[i]]);
  for (const stream of atHead) t.same(sseOf(stream), all.slice(3));
  for (const stream of fromStart) t.same(sseOf(stream), all);
  t.same(wsOf(sockets[0]!), all.slice(3));
  t.same(wsOf(sockets[1]!), all);
});
