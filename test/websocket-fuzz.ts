import t from 'tap';
import WebSocket from 'ws';
import { seededRandom } from '../bench/random.js';
import { forkServer } from './fixtures/server.js';
import { poll, publish, request, waitForWaiting } from './fixtures/http.js';
import { OP, RawWebSocket, closePayload, encodeFrame } from './fixtures/ws-raw.js';
import type { FrameSpec } from './fixtures/ws-raw.js';

/**
 * Hostile WebSocket frames, written byte for byte over `net.Socket` after a
 * real handshake: first every kind of frame `ws` refuses, each of which must
 * close that one connection with the close code `ws` gives it; then a few
 * hundred random malformed frames from a seed (printed; `POLLCAST_SEED=N`
 * replays a run), with bounded concurrency. After all of it the process is
 * alive, nothing is left waiting, and every transport still carries a message.
 */

const RANDOM_CASES = 300;
const CONCURRENCY = 12;
const MAX_BODY = 1_024;
/** The server pings this often, so a connection left half-written is dropped within two of them. */
const HEARTBEAT_MS = 400;
/** No connection may outlive this once its case is written: the server must have closed it. */
const CONNECTION_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (s: string) => Buffer.from(s, 'utf8');
const bytes = (...values: number[]) => Buffer.from(values);

const PROTOCOL_ERROR = 1002;
const INVALID_DATA = 1007;
const TOO_BIG = 1009;

/** Each frame `ws` refuses, and the close code it answers with. */
const REFUSED: [string, FrameSpec[], number][] = [
  ['an oversized message (length in the header)', [{ opcode: OP.text, length: 1_000_000n, payload: text('x'.repeat(64)) }], TOO_BIG],
  [
    'an oversized message in fragments',
    Array.from({ length: 12 }, (_, i) => ({ opcode: i === 0 ? OP.text : OP.continuation, fin: false, payload: text('y'.repeat(1_000)) })),
    TOO_BIG,
  ],
  ['a 64-bit length past 2^53', [{ opcode: OP.binary, length: 2n ** 60n, form: 64 }], TOO_BIG],
  ['a 64-bit length with the top bit set', [{ opcode: OP.text, length: 2n ** 63n + 5n, form: 64 }], TOO_BIG],
  ['invalid UTF-8 in a text frame', [{ opcode: OP.text, payload: bytes(0x7b, 0xff, 0xfe, 0x7d) }], INVALID_DATA],
  ['an overlong UTF-8 encoding', [{ opcode: OP.text, payload: bytes(0xc0, 0xaf) }], INVALID_DATA],
  ['an encoded lone surrogate', [{ opcode: OP.text, payload: bytes(0x22, 0xed, 0xa0, 0x80, 0x22) }], INVALID_DATA],
  [
    'invalid UTF-8 split across fragments',
    [
      { opcode: OP.text, fin: false, payload: bytes(0x61, 0xe2) },
      { opcode: OP.continuation, payload: bytes(0x28, 0xa1) },
    ],
    INVALID_DATA,
  ],
  ['invalid UTF-8 in a close reason', [{ opcode: OP.close, payload: closePayload(1000, bytes(0xff, 0x80)) }], INVALID_DATA],
  ['a continuation without a start', [{ opcode: OP.continuation, payload: text('orphan') }], PROTOCOL_ERROR],
  [
    'a new message inside a fragmented one',
    [
      { opcode: OP.text, fin: false, payload: text('{"ty') },
      { opcode: OP.text, payload: text('pe"}') },
    ],
    PROTOCOL_ERROR,
  ],
  ...[0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode): [string, FrameSpec[], number] => [
    `reserved opcode 0x${opcode.toString(16)}`,
    [{ opcode, payload: text('?') }],
    PROTOCOL_ERROR,
  ]),
  ['RSV1 set', [{ opcode: OP.text, rsv: 0b100, payload: text('{}') }], PROTOCOL_ERROR],
  ['RSV2 set', [{ opcode: OP.text, rsv: 0b010, payload: text('{}') }], PROTOCOL_ERROR],
  ['RSV3 set on a ping', [{ opcode: OP.ping, rsv: 0b001 }], PROTOCOL_ERROR],
  ['an unmasked client frame', [{ opcode: OP.text, mask: false, payload: text('{"type":"publish","text":"x"}') }], PROTOCOL_ERROR],
  ['a 126-byte ping', [{ opcode: OP.ping, payload: Buffer.alloc(126, 1) }], PROTOCOL_ERROR],
  ['a 126-byte close', [{ opcode: OP.close, payload: closePayload(1000, Buffer.alloc(124, 0x61)) }], PROTOCOL_ERROR],
  [
    'a fragmented ping',
    [
      { opcode: OP.ping, fin: false, payload: text('a') },
      { opcode: OP.continuation, payload: text('b') },
    ],
    PROTOCOL_ERROR,
  ],
  ['a fragmented pong', [{ opcode: OP.pong, fin: false }], PROTOCOL_ERROR],
  ['close code 1005 sent by the client', [{ opcode: OP.close, payload: closePayload(1005) }], PROTOCOL_ERROR],
  ['close code 1006 sent by the client', [{ opcode: OP.close, payload: closePayload(1006) }], PROTOCOL_ERROR],
  ['close code 999', [{ opcode: OP.close, payload: closePayload(999) }], PROTOCOL_ERROR],
  ['close code 5000', [{ opcode: OP.close, payload: closePayload(5000) }], PROTOCOL_ERROR],
  ['a 1-byte close payload', [{ opcode: OP.close, payload: bytes(0x03) }], PROTOCOL_ERROR],
];

interface Outcome {
  readonly closeCode: number | undefined;
  /** The server ended the connection before the deadline. */
  readonly ended: boolean;
}

/** Opens a connection, writes the steps (frames, raw bytes or pauses), then waits for the server to end it. */
async function run(port: number, steps: (Buffer | number)[], finish: 'hold' | 'destroy'): Promise<Outcome> {
  const ws = await RawWebSocket.open(port, '/ws/fuzz?since=0');
  // A reset from our side must not fail the test: the server's behaviour is what is checked.
  ws.socket.on('error', () => {});
  for (const step of steps) {
    if (typeof step === 'number') await sleep(step);
    else ws.write(step);
  }
  if (finish === 'destroy') {
    ws.socket.destroy();
    return { closeCode: ws.closeCode, ended: true };
  }
  const ended = await Promise.race([ws.closed.then(() => true), sleep(CONNECTION_MS).then(() => false)]);
  ws.socket.destroy();
  return { closeCode: ws.closeCode, ended };
}

/** A random, mostly malformed, sequence of frames and bytes. */
function randomSteps(rand: () => number): { steps: (Buffer | number)[]; finish: 'hold' | 'destroy' } {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const junk = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const steps: (Buffer | number)[] = [];
  for (let i = int(1, 6); i > 0; i--) {
    const roll = rand();
    if (roll < 0.15) steps.push(junk(int(1, 64)));
    else if (roll < 0.25) steps.push(int(0, 30));
    else if (roll < 0.35)
      steps.push(encodeFrame({ opcode: OP.text, payload: text(JSON.stringify({ type: 'publish', text: `fuzz ${int(0, 1e6)}` })) }));
    else {
      const payload =
        rand() < 0.3
          ? text(`{"type":"publish","text":"${'\\ud800'.repeat(int(0, 3))}${junk(int(0, 20)).toString('latin1')}"}`)
          : junk(int(0, 300));
      // Half are nearly right (a data or control opcode, masked, no RSV bit), so that bad UTF-8,
      // bad close payloads and lengths get through to the checks behind the header's.
      const plausible = rand() < 0.5;
      const frame = encodeFrame({
        opcode: plausible ? [OP.text, OP.text, OP.binary, OP.continuation, OP.close, OP.ping][int(0, 5)]! : int(0, 15),
        fin: rand() < 0.7,
        rsv: !plausible && rand() < 0.2 ? int(1, 7) : 0,
        mask: plausible || rand() < 0.9,
        payload,
        ...(rand() < 0.2 && { length: BigInt(int(0, 200_000)) }),
        ...(rand() < 0.1 && { form: ([7, 16, 64] as const)[int(0, 2)]! }),
      });
      // Sometimes only part of the frame: the server must not wait for the rest for ever.
      steps.push(rand() < 0.15 ? frame.subarray(0, int(1, frame.length)) : frame);
    }
  }
  return { steps, finish: rand() < 0.2 ? 'destroy' : 'hold' };
}

async function runAll<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) results.push(await jobs[next++]!());
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results;
}

/** Reads `/events` from `since` until `wanted` shows up in the stream. */
async function eventsCarry(origin: string, channel: string, since: string, wanted: string): Promise<boolean> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 5_000);
  try {
    const res = await fetch(`${origin}/events/${channel}?since=${since}`, { signal: abort.signal });
    const decoder = new TextDecoder();
    let seen = '';
    for await (const chunk of res.body!) {
      seen += decoder.decode(chunk as Uint8Array, { stream: true });
      if (seen.includes(`data: ${wanted}`)) return true;
    }
    return false;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

t.test('every frame ws refuses closes that one connection with its close code, and the server lives on', async (t) => {
  const server = await forkServer(t, ['--max-body', String(MAX_BODY), '--heartbeat', String(HEARTBEAT_MS)]);
  const port = server.port;
  const bystander = await RawWebSocket.open(port, '/ws/fuzz-bystander?since=0');
  bystander.answerPings = true;
  for (const [what, frames, code] of REFUSED) {
    const outcome = await run(port, frames.map(encodeFrame), 'hold');
    t.equal(server.child.exitCode, null, `${what}: the process is still running`);
    t.same(outcome, { closeCode: code, ended: true }, `${what}: closed with ${code}`);
  }
  await publish(server.origin, 'to the bystander', 'fuzz-bystander');
  const deadline = Date.now() + 5_000;
  while (!bystander.json().some((frame) => frame.text === 'to the bystander') && Date.now() < deadline) await sleep(20);
  t.ok(
    bystander.json().some((frame) => frame.text === 'to the bystander'),
    'a connection open all along still gets its messages',
  );
  bystander.socket.destroy();
});

t.test('a few hundred random malformed frames leave every transport working', async (t) => {
  const seed = Number(process.env.POLLCAST_SEED ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (replay with POLLCAST_SEED=${seed})`);
  const server = await forkServer(t, ['--max-body', String(MAX_BODY), '--heartbeat', String(HEARTBEAT_MS), '--poll-timeout', '1000']);
  const rand = seededRandom(seed);
  const cases = Array.from({ length: RANDOM_CASES }, () => randomSteps(rand));
  const started = Date.now();
  const outcomes = await runAll(cases.map((c) => () => run(server.port, c.steps, c.finish)));
  t.comment(`${outcomes.length} connections in ${Date.now() - started} ms`);
  t.equal(server.child.exitCode, null, 'the process is still running');
  const held = cases.map((c, i) => [c, outcomes[i]!] as const).filter(([c]) => c.finish === 'hold');
  t.same(held.filter(([, o]) => !o.ended).length, 0, 'the server ended every connection it was left with');
  const codes = new Map<number, number>();
  for (const { closeCode } of outcomes) if (closeCode !== undefined) codes.set(closeCode, (codes.get(closeCode) ?? 0) + 1);
  t.comment(
    `close codes: ${[...codes]
      .sort(([a], [b]) => a - b)
      .map(([c, n]) => `${c}×${n}`)
      .join(' ')}`,
  );
  t.ok(
    codes.has(PROTOCOL_ERROR) && codes.has(INVALID_DATA) && codes.has(TOO_BIG),
    'protocol errors, invalid data and frames too big were among them',
  );

  await waitForWaiting(server.origin, 0, 10_000);
  t.pass('nothing is left waiting');

  // A round trip on every transport.
  const before = (
    JSON.parse((await request(server.origin, '/messages/after?since=0', { headers: { accept: 'application/json' } })).body) as {
      cursor: string;
    }
  ).cursor;
  const parked = poll(server.origin, undefined, 'after');
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws/after`);
  t.teardown(() => socket.terminate());
  const overWs = new Promise<string>((resolve) =>
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; text?: string };
      if (frame.type === 'message') resolve(frame.text!);
    }),
  );
  await new Promise((resolve) => socket.once('open', resolve));
  await waitForWaiting(server.origin, 2);
  const id = await publish(server.origin, 'still here', 'after');
  t.match(JSON.parse((await parked).body), { messages: [{ id, text: 'still here' }] }, 'a long poll gets it');
  t.equal(await overWs, 'still here', 'a WebSocket gets it');
  t.match(
    JSON.parse((await request(server.origin, `/messages/after?since=${before}`, { headers: { accept: 'application/json' } })).body),
    { messages: [{ id, text: 'still here' }] },
    '/messages has it',
  );
  t.ok(await eventsCarry(server.origin, 'after', before, 'still here'), '/events streams it');
  socket.send(JSON.stringify({ type: 'publish', text: 'from the socket' }));
  const published = await new Promise<{ type: string }>((resolve) =>
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string };
      if (frame.type === 'published' || frame.type === 'error') resolve(frame);
    }),
  );
  t.equal(published.type, 'published', 'a WebSocket still publishes');
  t.equal(server.child.exitCode, null, 'the process is still running');
});
