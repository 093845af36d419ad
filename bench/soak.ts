/**
 * Soak: forks the built server and, for a bounded time, churns thousands of
 * long polls over a few channels while publishing steadily. Followers stay
 * the whole time, resuming from their cursors (some hang up at random and
 * resume); churners connect, maybe wait, and drop. At the end every follower
 * must hold every message of its channel exactly once and in order, nothing
 * may be left parked, and memory must not keep growing once the churn stops.
 *
 *   npm run soak [-- --seconds 60 --rate 100 --churners 200 --seed N]
 *   npm run soak -- --hostile
 *
 * `--hostile` adds, all at once during the churn: clients that never read
 * (on every transport, from many cursors of a channel with a large
 * backlog), WebSocket clients that flood junk frames and never read,
 * refused upgrades, and well-behaved readers that take the whole backlog
 * from `since=0` over and over on an event stream and a WebSocket. It fails
 * when the server's RSS passes the bound docs/operations.md states (base + history
 * budget + outbound budget + per-connection state × connections) or when a
 * well-behaved reader misses, doubles or reorders anything.
 *
 * Exits 0 on pass, 1 on fail. All traffic goes to 127.0.0.1 (from
 * 127.0.0.1…127.0.0.8 where the system allows, to spread ephemeral ports).
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { seededRandom } from './random.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

// ---------------------------------------------------------------------------
// Settings

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '100' },
    channels: { type: 'string', default: '4' },
    followers: { type: 'string', default: '40' },
    resumers: { type: 'string', default: '20' },
    churners: { type: 'string', default: '200' },
    seed: { type: 'string' },
    hostile: { type: 'boolean', default: false },
  },
  strict: true,
});

function whole(name: string, raw: string | undefined, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    process.stderr.write(`soak: --${name} must be a whole number from ${min} to ${max}, got ${raw}\n`);
    process.exit(2);
  }
  return value;
}

const SECONDS = whole('seconds', flags.seconds, 15, 3_600);
const RATE = whole('rate', flags.rate, 1, 2_000); // messages per second, all channels together
const CHANNELS = whole('channels', flags.channels, 1, 64);
const FOLLOWERS = whole('followers', flags.followers, 1, 1_000); // never hang up
const RESUMERS = whole('resumers', flags.resumers, 0, 1_000); // hang up at random, resume from the cursor
const CHURNERS = whole('churners', flags.churners, 0, 5_000); // concurrent connect-wait-drop loops
const SEED = flags.seed === undefined ? Date.now() % 1_000_000 : whole('seed', flags.seed, 0, 2 ** 31);
const HOSTILE = flags.hostile === true;

const POLL_TIMEOUT_MS = 5_000;
const SETTLE_MS = 5_000; // after the churn: no clients, memory sampled
const DRAIN_MS = 10_000; // at most, for followers to catch up with the last message
const CHURN_MS = SECONDS * 1000 - SETTLE_MS - 2_000; // the rest: warm-up, drain, settle
const REQUEST_TIMEOUT_MS = POLL_TIMEOUT_MS * 3;
const MB = 1024 * 1024;

// The hostile run's server budgets, and the bound on its RSS in docs/operations.md (see "Threat model and limits").
const HISTORY_BYTES = 16 * MB;
const OUTBOUND_BYTES = 32 * MB;
const CONNECTION_BYTES = MB;
const WRITE_TIMEOUT_MS = 3_000;
/** Working room of the heap beyond the history, enforced by the heap cap below (docs/operations.md). */
const HEAP_ROOM = 64 * MB;
/** RSS of an idle server outside its heap (about 50 MiB), and the heap's working room (docs/operations.md). */
const BASE_RSS = 50 * MB + HEAP_ROOM;
/** Heap per byte of history text, its per-message overhead and cached encodings included (docs/operations.md). */
const HISTORY_FACTOR = 4;
/** Socket, parser and subscriber state of one connection, user space only: about 16 KiB measured, twice that allowed (docs/operations.md). */
const PER_CONNECTION = 32 * 1024;
/** The heap cap docs/operations.md advises, so that V8 collects rather than grows: the history's share and 64 MiB of working room. */
const HEAP_MB = (HISTORY_FACTOR * HISTORY_BYTES + HEAP_ROOM) / MB;
/** The hostile actors. */
const NON_READERS = 60;
const JUNKERS = 1;
const HOARD_MESSAGES = 100; // of 60 000 control characters: 6 MB of text, 36 MB as JSON

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// The server

/** Forced full GC on SIGUSR2, so that the start and end heap are what is really kept. */
const GC_ON_SIGNAL = ['--expose-gc', "--import=data:text/javascript,process.on('SIGUSR2',()=>globalThis.gc())"];

const HOSTILE_ARGS = [
  '--history-bytes',
  String(HISTORY_BYTES),
  '--outbound-bytes',
  String(OUTBOUND_BYTES),
  '--stream-buffer',
  String(CONNECTION_BYTES),
  '--write-timeout',
  String(WRITE_TIMEOUT_MS),
];
const child = fork(
  CLI,
  [
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--poll-timeout',
    String(POLL_TIMEOUT_MS),
    // One machine plays every client: lift the per-client limits.
    '--publish-rate',
    '0',
    '--max-waiting-per-client',
    '1000000',
    '--max-waiting',
    '1000000',
    ...(HOSTILE ? HOSTILE_ARGS : []),
  ],
  {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: HOSTILE ? [...GC_ON_SIGNAL, `--max-old-space-size=${HEAP_MB}`] : GC_ON_SIGNAL,
  },
);
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

async function stopServer(): Promise<number | null> {
  if (child.exitCode === null && child.signalCode === null && child.connected) child.send('shutdown');
  const code = await Promise.race([exited, sleep(10_000).then(() => 'late' as const)]);
  if (code === 'late') {
    child.kill('SIGKILL');
    return null;
  }
  return code;
}

process.once('SIGINT', () => {
  void stopServer().then(() => process.exit(130));
});

const port = await new Promise<number>((resolve, reject) => {
  child.on('message', (message: { type?: string; port?: number }) => {
    if (message.type === 'ready' && typeof message.port === 'number') resolve(message.port);
  });
  child.once('exit', (code) => reject(new Error(`pollcast exited with ${code} before it was ready`)));
});

// ---------------------------------------------------------------------------
// HTTP

const agent = new Agent({ keepAlive: true, maxSockets: 512, maxTotalSockets: 4_096 });

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Call {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  from?: string;
}

function call(path: string, options: Call = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent,
        method: options.method ?? 'GET',
        headers: options.headers,
        signal: options.signal,
        localAddress: options.from,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Loopback addresses this system lets us connect from (Linux: all of 127/8). */
async function sourceAddresses(): Promise<string[]> {
  const usable = ['127.0.0.1'];
  for (let i = 2; i <= 8; i++) {
    const from = `127.0.0.${i}`;
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress: from });
      socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
      setTimeout(() => resolve(false), 1_000);
      socket.once('connect', () => socket.destroy());
    });
    if (ok) usable.push(from);
  }
  return usable;
}

// ---------------------------------------------------------------------------
// Counters and memory samples

interface Stats {
  waiting: number;
  channels: number;
  published: number;
  delivered: number;
  outbound?: { bytes: number; connections: number; cut: number; refused: number };
  memory: { rss: number; heapUsed: number };
}

const counts = { polls: 0, churnConnects: 0, churnDropped: 0, churnAnswered: 0, resumes: 0, errors: 0, publishRetries: 0 };
const problems: string[] = [];

async function stats(): Promise<Stats> {
  return JSON.parse((await call('/stats')).body) as Stats;
}

/** VmRSS of the server from /proc, where there is one; else the rss /stats reports. */
function vmRss(fallback: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : fallback;
  } catch {
    return fallback;
  }
}

interface Sample {
  second: number;
  phase: string;
  waiting: number;
  heap: number;
  rss: number;
}

const samples: Sample[] = [];
const started = Date.now();
let phase = 'warm-up';

async function sample(): Promise<Sample> {
  const s = await stats();
  const taken = {
    second: Math.round((Date.now() - started) / 1000),
    phase,
    waiting: s.waiting,
    heap: s.memory.heapUsed,
    rss: vmRss(s.memory.rss),
  };
  samples.push(taken);
  return taken;
}

async function collectedHeap(): Promise<number> {
  child.kill('SIGUSR2');
  await sleep(300);
  return (await stats()).memory.heapUsed;
}

// ---------------------------------------------------------------------------
// Clients

interface Message {
  id: string;
  text: string;
}

interface Batch {
  messages: (Message & { time: number })[];
  missed: boolean;
  cursor: string;
}

const channelName = (ch: number) => `soak-${ch}`;
/** What each channel's publisher got acknowledged, in the order sent. */
const published: Message[][] = Array.from({ length: CHANNELS }, () => []);

/** Publishes to one channel, one message at a time (so the acknowledged order is the stored order), at `rate`/s. */
async function publisher(ch: number, perSecond: number, until: number, rand: () => number): Promise<void> {
  const interval = 1000 / perSecond;
  let next = Date.now();
  for (let n = 0; Date.now() < until; n++) {
    next += interval;
    const text = `${channelName(ch)}:${n}:${'p'.repeat(Math.floor(rand() * 200))}`;
    const key = `soak-${SEED}-${ch}-${n}`;
    let done = false;
    // A retry with the same Idempotency-Key cannot publish twice.
    for (let attempt = 0; attempt < 5 && !done; attempt++) {
      try {
        const answer = await call(`/publish/${channelName(ch)}`, {
          method: 'POST',
          body: text,
          headers: { accept: 'application/json', 'idempotency-key': key },
        });
        if (answer.status !== 200) throw new Error(`publish answered ${answer.status}: ${answer.body.trim()}`);
        published[ch]!.push({ id: (JSON.parse(answer.body) as { id: string }).id, text });
        done = true;
      } catch (error) {
        counts.publishRetries++;
        if (attempt === 4) problems.push(`publish ${key} failed: ${(error as Error).message}`);
        await sleep(100);
      }
    }
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
  }
}

interface Follower {
  readonly ch: number;
  readonly kind: 'follower' | 'resumer';
  readonly got: Message[];
  missed: boolean;
  /** Aborts the poll in flight, once the follower has everything. */
  readonly stop: AbortController;
  done: Promise<void>;
}

/**
 * Polls from its cursor for as long as it runs, resuming after every answer.
 * A resumer also hangs up at random mid-poll and resumes from the same cursor.
 */
function follow(ch: number, kind: Follower['kind'], cursor: string, rand: () => number, hardStop: number): Follower {
  const follower: Follower = { ch, kind, got: [], missed: false, stop: new AbortController(), done: Promise.resolve() };
  follower.done = (async () => {
    while (!follower.stop.signal.aborted && Date.now() < hardStop) {
      const hangUp = new AbortController();
      const timer = kind === 'resumer' && rand() < 0.3 ? setTimeout(() => hangUp.abort(), rand() * 60) : undefined;
      counts.polls++;
      try {
        const answer = await call(`/subscribe/${channelName(ch)}?since=${encodeURIComponent(cursor)}`, {
          headers: { accept: 'application/json' },
          signal: AbortSignal.any([hangUp.signal, follower.stop.signal]),
        });
        if (answer.status === 200) {
          const batch = JSON.parse(answer.body) as Batch;
          follower.got.push(...batch.messages.map(({ id, text }) => ({ id, text })));
          follower.missed ||= batch.missed;
          cursor = batch.cursor;
        } else if (answer.status === 204) {
          cursor = answer.headers['pollcast-cursor'] as string;
        } else {
          counts.errors++;
          await sleep(100);
        }
      } catch (error) {
        if (hangUp.signal.aborted) counts.resumes++;
        else if (!follower.stop.signal.aborted) {
          counts.errors++;
          problems.push(`${kind} on ${channelName(ch)}: ${(error as Error).message}`);
          await sleep(100);
        }
      } finally {
        clearTimeout(timer);
      }
    }
  })();
  return follower;
}

/** Connects, maybe waits, and drops, over and over, until `until`. */
async function churner(rand: () => number, from: string, until: number, stop: AbortSignal): Promise<void> {
  while (Date.now() < until && !stop.aborted) {
    // Half on the busy channels (answered soon), half on four that nobody publishes on (made, parked, dropped).
    const ch = rand() < 0.5 ? Math.floor(rand() * CHANNELS) : CHANNELS + Math.floor(rand() * 4);
    const since = rand() < 0.3 ? '?since=0' : '';
    const json = rand() < 0.5;
    const drop = new AbortController();
    const timer = rand() < 0.8 ? setTimeout(() => drop.abort(), rand() * 3_000) : undefined;
    counts.churnConnects++;
    try {
      await call(`/subscribe/${channelName(ch)}${since}`, {
        headers: json ? { accept: 'application/json' } : {},
        signal: AbortSignal.any([drop.signal, stop]),
        from,
      });
      counts.churnAnswered++;
    } catch {
      counts.churnDropped++;
    } finally {
      clearTimeout(timer);
    }
    if (rand() < 0.5) await sleep(rand() * 50);
  }
}

// ---------------------------------------------------------------------------
// Hostile clients (--hostile)

const HOARD = 'soak-hoard';
const hostile = { nonReaders: 0, junkers: 0, junkBytes: 0, refused: 0, refusedWrong: 0, backlogPasses: 0, backlogResumes: 0 };

/** Publishes the large backlog: control characters, each six bytes of JSON. */
async function publishHoard(): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < HOARD_MESSAGES; i++) {
    const answer = await call(`/publish/${HOARD}`, {
      method: 'POST',
      body: `${i}${'\u0001'.repeat(60_000)}`,
      headers: { accept: 'application/json' },
    });
    if (answer.status !== 200) throw new Error(`hoard publish answered ${answer.status}`);
    ids.push((JSON.parse(answer.body) as { id: string }).id);
  }
  // Read it once, page by page, so that each message's JSON (which the hub keeps with it) is made now.
  for (let cursor = '0'; cursor !== ids[ids.length - 1]; ) {
    cursor = (JSON.parse((await call(`/messages/${HOARD}?since=${encodeURIComponent(cursor)}`)).body) as Batch).cursor;
  }
  return ids;
}

/** Resolves on the first of `events` on `socket`, or after `ms`; never rejects (errors are the point here). */
function first(socket: Socket, events: readonly string[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const event of events) socket.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const event of events) socket.on(event, done);
  });
}

const UPGRADE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

/** Opens a raw connection, sends `head`, and never reads. */
function rawSocket(head: string, from: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    socket.on('error', () => {});
    socket.pause();
    socket.once('connect', () => {
      socket.write(head);
      resolve(socket);
    });
  });
}

/** Keeps `NON_READERS` connections open that never read, each for a few seconds, on every transport and from many cursors. */
async function nonReaders(ids: string[], rand: () => number, sources: string[], until: number): Promise<void> {
  const paths = ['/subscribe', '/messages', '/events', '/ws'];
  const open = new Set<Socket>();
  while (Date.now() < until) {
    while (open.size < NON_READERS) {
      const path = paths[Math.floor(rand() * paths.length)]!;
      const since = rand() < 0.2 ? '0' : ids[Math.floor(rand() * ids.length)]!;
      const head = `GET ${path}/${HOARD}?since=${encodeURIComponent(since)} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n${path === '/ws' ? UPGRADE : ''}\r\n`;
      const socket = await rawSocket(head, sources[hostile.nonReaders % sources.length]!);
      hostile.nonReaders++;
      open.add(socket);
      setTimeout(
        () => {
          open.delete(socket);
          socket.destroy();
        },
        2_000 + rand() * 6_000,
      );
    }
    await sleep(100);
  }
  for (const socket of open) socket.destroy();
}

/** WebSocket clients that flood junk frames and never read, replaced as they are cut. */
async function junker(until: number): Promise<void> {
  const frame = Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0x78]);
  const burst = Buffer.concat(Array.from({ length: 5_000 }, () => frame));
  while (Date.now() < until) {
    const socket = await rawSocket(`GET /ws/soak-junk HTTP/1.1\r\nHost: x\r\n${UPGRADE}\r\n`, '127.0.0.1');
    hostile.junkers++;
    let closed = false;
    socket.once('close', () => (closed = true));
    await sleep(50);
    // 1 MB: some 150 000 frames, more error frames than the cap and the kernel's buffers hold, so each flood is cut.
    for (let sent = 0; sent < MB && !closed && Date.now() < until; sent += burst.length) {
      hostile.junkBytes += burst.length;
      if (!socket.write(burst)) await first(socket, ['drain', 'close'], 1_000);
    }
    socket.destroy();
    await sleep(5_000);
  }
}

/** Upgrades the server must refuse (no key, version 12, bad subprotocols), each answered and closed. */
async function refuser(until: number): Promise<void> {
  const bad = [
    'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n',
    'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n',
    `${UPGRADE}Sec-WebSocket-Protocol: a b, ,\r\n`,
  ];
  for (let n = 0; Date.now() < until; n++) {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.write(`GET /ws/soak-refused HTTP/1.1\r\nHost: x\r\n${bad[n % bad.length]!}\r\n`);
    await first(socket, ['close'], 2_000);
    socket.destroy();
    const status = /^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'))?.[1];
    if (status && status.startsWith('4')) hostile.refused++;
    else hostile.refusedWrong++;
    await sleep(20);
  }
}

/**
 * A well-behaved reader of the whole backlog from `since=0`, over and over:
 * an event stream parsed like EventSource (resuming from its last id when
 * cut), or a WebSocket (resuming from its last message id). Each pass must
 * get every backlog message once, in order.
 */
async function backlogReader(kind: 'events' | 'ws', ids: string[], until: number): Promise<void> {
  while (Date.now() < until) {
    const got: string[] = [];
    let cursor = '0';
    const passEnd = Date.now() + 60_000;
    while (got.length < ids.length && Date.now() < passEnd) {
      const before = got.length;
      await (kind === 'events' ? readEvents(cursor, got, ids.length) : readWs(cursor, got, ids.length));
      if (got.length < ids.length) hostile.backlogResumes++;
      cursor = got[got.length - 1] ?? cursor;
      if (got.length === before) await sleep(200);
    }
    const same = got.length === ids.length && got.every((id, i) => id === ids[i]);
    if (!same) problems.push(`backlog reader (${kind}) got ${got.length} of ${ids.length} messages, ${same ? 'in' : 'not in'} order`);
    hostile.backlogPasses++;
  }
}

/** Reads an event stream from `cursor` until `want` ids are in `got`, or the stream ends. */
function readEvents(cursor: string, got: string[], want: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: `/events/${HOARD}?since=${encodeURIComponent(cursor)}`, agent: false }, (res) => {
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (frame.startsWith('event: missed')) problems.push('backlog reader (events) was told it missed messages');
          const id = /^id: (.*)$/m.exec(frame)?.[1];
          if (id !== undefined && frame.includes('\ndata: ')) got.push(id);
        }
        if (got.length >= want) req.destroy();
      });
      res.on('close', () => resolve());
      res.on('error', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
}

/** Reads a WebSocket from `cursor` until `want` ids are in `got`, or it closes. */
function readWs(cursor: string, got: string[], want: number): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/${HOARD}?since=${encodeURIComponent(cursor)}`);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: string };
      if (frame.type === 'missed') problems.push('backlog reader (ws) was told it missed messages');
      if (frame.type === 'message') got.push(frame.id!);
      if (got.length >= want) ws.close();
    });
    ws.on('close', () => resolve());
    ws.on('error', () => resolve());
  });
}

/** The bound on RSS in docs/operations.md for this run's budgets and connections. */
function rssBound(connections: number): number {
  return BASE_RSS + HISTORY_FACTOR * HISTORY_BYTES + OUTBOUND_BYTES + PER_CONNECTION * connections;
}

// ---------------------------------------------------------------------------
// The run

function fmt(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MiB`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<boolean> {
  const sources = await sourceAddresses();
  process.stdout.write(
    `soak: seed ${SEED} (replay with --seed ${SEED}), ${SECONDS} s, ${RATE} msg/s over ${CHANNELS} channels, ` +
      `${FOLLOWERS} followers, ${RESUMERS} resumers, ${CHURNERS} churners from ${sources.length} source address(es); node ${process.version}\n`,
  );

  // The backlog is meant to stay in history: the heap to come back to is the one holding it.
  const hoard = HOSTILE ? await publishHoard() : [];
  const startHeap = await collectedHeap();
  await sample();

  // Every follower starts from the channel's position before the first message.
  const hardStop = Date.now() + SECONDS * 1000 + DRAIN_MS + 30_000;
  const followers: Follower[] = [];
  for (let i = 0; i < FOLLOWERS + RESUMERS; i++) {
    const ch = i % CHANNELS;
    const first = JSON.parse(
      (await call(`/subscribe/${channelName(ch)}?since=0`, { headers: { accept: 'application/json' } })).body,
    ) as Batch;
    followers.push(follow(ch, i < FOLLOWERS ? 'follower' : 'resumer', first.cursor, seededRandom(SEED + 1 + i), hardStop));
  }

  const sampler = setInterval(() => void sample().catch((error: Error) => problems.push(`stats: ${error.message}`)), 1_000);
  phase = 'churn';
  const churnEnd = Date.now() + CHURN_MS;
  const stopChurn = new AbortController();
  const publishers = Array.from({ length: CHANNELS }, (_, ch) => publisher(ch, RATE / CHANNELS, churnEnd, seededRandom(SEED * 3 + ch)));
  const churners = Array.from({ length: CHURNERS }, (_, i) =>
    churner(seededRandom(SEED * 7 + i), sources[i % sources.length]!, churnEnd, stopChurn.signal),
  );
  const hostiles = HOSTILE
    ? [
        nonReaders(hoard, seededRandom(SEED * 11), sources, churnEnd),
        ...Array.from({ length: JUNKERS }, () => junker(churnEnd)),
        refuser(churnEnd),
        backlogReader('events', hoard, churnEnd),
        backlogReader('ws', hoard, churnEnd),
      ]
    : [];
  await Promise.all(publishers);
  stopChurn.abort(); // whatever is still parked is dropped now
  await Promise.all(churners);
  await Promise.all(hostiles);

  // Followers catch up with the last message, then hang up.
  phase = 'drain';
  const drainEnd = Date.now() + DRAIN_MS;
  const caughtUp = (f: Follower) => f.got.length >= published[f.ch]!.length;
  while (!followers.every(caughtUp) && Date.now() < drainEnd) await sleep(100);
  for (const f of followers) f.stop.abort();
  await Promise.all(followers.map((f) => f.done));

  // No clients now: the server should give back what the churn took.
  phase = 'settle';
  await sleep(SETTLE_MS);
  clearInterval(sampler);
  const endHeap = await collectedHeap();
  const last = await sample();
  const end = await stats();

  // ---- verdicts
  let ok = true;
  const fail = (why: string) => {
    ok = false;
    process.stdout.write(`FAIL ${why}\n`);
  };

  for (const [i, f] of followers.entries()) {
    const want = published[f.ch]!;
    const gotIds = f.got.map((m) => m.id);
    const dupes = gotIds.length - new Set(gotIds).size;
    const same = gotIds.length === want.length && f.got.every((m, k) => m.id === want[k]!.id && m.text === want[k]!.text);
    if (!same)
      fail(`${f.kind} ${i} on ${channelName(f.ch)}: got ${f.got.length} messages (${dupes} repeated), want ${want.length}, in order`);
    if (f.missed) fail(`${f.kind} ${i} on ${channelName(f.ch)} was told it missed messages`);
  }
  if (end.waiting !== 0) fail(`${end.waiting} polls still parked with no client left`);
  for (const problem of new Set(problems)) fail(problem);

  const churn = samples.filter((s) => s.phase === 'churn');
  const plateau = churn.slice(Math.floor(churn.length / 2));
  const plateauRss = median(plateau.map((s) => s.rss));
  const settled = samples.filter((s) => s.phase === 'settle').slice(-3);
  const endRss = settled.length ? settled.reduce((sum, s) => sum + s.rss, 0) / settled.length : last.rss;
  const peakRss = Math.max(...samples.map((s) => s.rss));
  const peakHeap = Math.max(...samples.map((s) => s.heap));
  // Tolerant: allocator and GC noise move these by a few MiB on a busy machine.
  if (endRss > plateauRss * 1.15 + 16 * MB) fail(`RSS kept growing after the churn: ${fmt(endRss)} settled vs ${fmt(plateauRss)} plateau`);
  if (endHeap > startHeap + Math.max(16 * MB, startHeap)) fail(`heap after a full GC grew from ${fmt(startHeap)} to ${fmt(endHeap)}`);

  const connections = FOLLOWERS + RESUMERS + CHURNERS + CHANNELS + (HOSTILE ? NON_READERS + JUNKERS + 3 : 0);
  const bound = rssBound(connections);
  if (HOSTILE) {
    if (peakRss > bound) fail(`RSS peaked at ${fmt(peakRss)}, over the bound of ${fmt(bound)} for ${connections} connections`);
    if (hostile.backlogPasses < 2) fail(`the backlog readers completed ${hostile.backlogPasses} passes`);
    if (hostile.refused === 0) fail('no refused upgrade was answered with a 4xx');
  }

  // ---- report
  process.stdout.write('\nmemory, one sample a second (waiting polls, heapUsed, VmRSS):\n');
  for (const s of samples)
    process.stdout.write(
      `  ${String(s.second).padStart(4)} s  ${s.phase.padEnd(7)} waiting ${String(s.waiting).padStart(5)}  heap ${fmt(s.heap).padStart(9)}  rss ${fmt(s.rss).padStart(9)}\n`,
    );
  const messages = published.reduce((sum, p) => sum + p.length, 0);
  const followerDeliveries = followers.reduce((sum, f) => sum + f.got.length, 0);
  process.stdout.write(`
summary
  subscribers   ${FOLLOWERS} followers + ${RESUMERS} resumers (${counts.resumes} hang-ups resumed), ${CHURNERS} churners
  connects      ${counts.churnConnects} churn polls (${counts.churnDropped} dropped, ${counts.churnAnswered} answered), ${counts.polls} follower polls
  messages      ${messages} published (${(messages / (CHURN_MS / 1000)).toFixed(0)}/s), ${counts.publishRetries} retries
  deliveries    ${end.delivered} by the server, ${followerDeliveries} checked at followers
  memory rss    start ${fmt(samples[0]!.rss)}, peak ${fmt(peakRss)}, churn plateau ${fmt(plateauRss)}, end ${fmt(endRss)}
  memory heap   start ${fmt(startHeap)} (after GC), peak ${fmt(peakHeap)}, end ${fmt(endHeap)} (after GC)
  errors        ${counts.errors}
${
  HOSTILE
    ? `  hostile       ${hostile.nonReaders} non-readers opened, ${hostile.junkers} junk floods (${fmt(hostile.junkBytes)} sent), ${hostile.refused} upgrades refused (${hostile.refusedWrong} unanswered)
  backlogs      ${hostile.backlogPasses} full passes of ${HOARD_MESSAGES} messages (${fmt(HOARD_MESSAGES * 60_000)} of text) by the well-behaved readers, ${hostile.backlogResumes} resumes
  outbound      ${end.outbound ? `${end.outbound.cut} connections cut, ${end.outbound.refused} answers refused` : 'n/a'}
  rss bound     ${fmt(bound)} (heap capped at ${HEAP_MB} MiB) = base ${fmt(BASE_RSS)} + ${HISTORY_FACTOR} x history ${fmt(HISTORY_BYTES)} + outbound ${fmt(OUTBOUND_BYTES)} + ${PER_CONNECTION / 1024} KiB x ${connections} connections
`
    : ''
}  result        ${ok ? 'PASS' : 'FAIL'} in ${((Date.now() - started) / 1000).toFixed(1)} s
`);
  return ok;
}

let passed = false;
try {
  passed = await main();
} catch (error) {
  process.stdout.write(`FAIL ${(error as Error).stack ?? String(error)}\n`);
}
agent.destroy();
const code = await stopServer();
if (code !== 0) {
  process.stdout.write(`FAIL the server exited with ${code}\n`);
  passed = false;
}
process.exit(passed ? 0 : 1);
