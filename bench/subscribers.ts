/**
 * A subscriber process of the bench: forked by bench.ts, it runs `count` long-poll loops against
 * one target over keep-alive connections from the given loopback addresses, checks every message
 * (sequence number: completeness, duplicates, order; send time: latency), and reports to its
 * parent over IPC. Every loop ends on 'stop', on the job's deadline, or when the parent goes.
 */
import { Agent } from 'node:http';
import { NodeClient, RawClient } from './http1.js';
import type { Client, TimedAnswer } from './http1.js';
import { Stream } from './streams.js';
import { ADAPTERS, BUCKETS, ByteMeter, bucketOf, nowMs, readMessage } from './wire.js';
import type { FromSubscribers, Parsed, PollState, StartJob, SubscriberResult, ToSubscribers } from './wire.js';

/** Connections being opened at once, so that 10k polls do not overflow the listen backlog. */
const CONNECT_WINDOW = 200;
const RETRY_MS = 100;
const MAX_ERRORS_PER_SUBSCRIBER = 200;

function send(message: FromSubscribers): void {
  process.send?.(message);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Subscriber {
  /** The connection of a polling subscriber (streams open their own). */
  client: Client;
  /** The loopback address it connects from (undefined: the system's choice). */
  address: string | undefined;
  state: PollState;
  seen: Uint8Array;
  /** Sequence numbers in the order received (first receipt only). */
  order: Int32Array;
  distinct: number;
  errors: number;
  /** Its first poll is parked (or, for pollcast, its since=0 answer came and it polls again). */
  ready: boolean;
}

let job: StartJob | undefined;
let stopped = false;
const subscribers: Subscriber[] = [];
const streams: Stream[] = [];
const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000, scheduling: 'lifo' });

// Totals of this process.
let deliveries = 0;
let distinctTotal = 0;
let duplicates = 0;
let outOfOrder = 0;
let missedFlags = 0;
let garbage = 0;
let errors = 0;
let responses = 0;
let firstReceiveMs = 0;
let lastReceiveMs = 0;
let readyCount = 0;
let startedSent = false;
const histogram = new Float64Array(BUCKETS);
let seqCount = new Uint32Array(0);
let seqLastMs = new Float64Array(0);
const meter = new ByteMeter();
let markBytes = { read: 0, written: 0 };
let stopBytes = { read: 0, written: 0 };
let markCpu: NodeJS.CpuUsage | undefined;
let markMs = 0;
let cpuAtLast: NodeJS.CpuUsage | undefined;

function markReady(sub: Subscriber): void {
  if (sub.ready) return;
  sub.ready = true;
  readyCount++;
  if (!startedSent && job && readyCount === job.count) {
    startedSent = true;
    send({ type: 'started', ready: readyCount });
  }
}

function receive(sub: Subscriber, texts: string[], at: number): void {
  if (texts.length === 0) return;
  if (firstReceiveMs === 0) firstReceiveMs = at;
  lastReceiveMs = at;
  if (markCpu) cpuAtLast = process.cpuUsage();
  for (const text of texts) {
    deliveries++;
    const read = readMessage(text);
    if (!read || read[0] >= sub.seen.length) {
      garbage++;
      continue;
    }
    const [seq, sentMs] = read;
    if (sub.seen[seq]) {
      duplicates++;
      continue;
    }
    sub.seen[seq] = 1;
    sub.order[sub.distinct++] = seq;
    distinctTotal++;
    histogram[bucketOf(at - sentMs)]!++;
    seqCount[seq]!++;
    if (at > seqLastMs[seq]!) seqLastMs[seq] = at;
  }
}

/** One subscriber's long-poll loop; bounded by 'stop', the deadline and its error budget. */
async function loop(sub: Subscriber, start: StartJob, connected: () => void): Promise<void> {
  const adapter = ADAPTERS[start.target];
  // pollcast answers since=0 at once, and interval polls always do
  const parksAtOnce = adapter.name === 'baseline' || adapter.name.startsWith('nchan');
  const pause = adapter.transport === 'poll' ? start.pollIntervalMs : 0;
  try {
    await sub.client.connect();
  } catch {
    errors++;
    sub.errors++;
  }
  connected();
  let answered = false;
  while (!stopped && nowMs() < start.deadlineMs && sub.errors <= MAX_ERRORS_PER_SUBSCRIBER) {
    const pending = sub.client.send('GET', adapter.subscribePath(start.channel, sub.state), adapter.subscribeHeaders(sub.state));
    if (parksAtOnce || answered) markReady(sub);
    let answer: TimedAnswer;
    try {
      answer = await pending;
    } catch {
      if (stopped) return;
      errors++;
      sub.errors++;
      await sleep(RETRY_MS);
      continue;
    }
    responses++;
    answered = true;
    let parsed: Parsed;
    try {
      parsed = adapter.parse(answer, sub.state);
    } catch {
      parsed = { texts: [], missed: false, error: true, next: sub.state };
    }
    sub.state = parsed.next;
    if (parsed.missed) missedFlags++;
    receive(sub, parsed.texts, answer.at);
    if (parsed.error) {
      errors++;
      sub.errors++;
      await sleep(RETRY_MS);
    } else if (pause > 0) {
      await sleep(pause);
    }
  }
}

/** A streaming subscriber: one event stream or WebSocket, resumed from its last id after a drop. */
async function follow(sub: Subscriber, start: StartJob, connected: () => void): Promise<void> {
  const transport = ADAPTERS[start.target].transport;
  const stream = new Stream(
    {
      kind: transport === 'ws' ? 'ws' : 'sse',
      port: start.port,
      channel: start.channel,
      localAddress: sub.address,
      deadlineMs: start.deadlineMs,
      maxErrors: MAX_ERRORS_PER_SUBSCRIBER,
      meter,
      client: start.client,
    },
    {
      ready() {
        if (!sub.ready) connected();
        markReady(sub);
      },
      texts: (texts, at) => receive(sub, texts, at),
      missed: () => missedFlags++,
      error() {
        errors++;
        sub.errors++;
      },
    },
  );
  streams.push(stream);
  await stream.run();
  if (!sub.ready) connected();
}

/** Starts the subscribers' loops, at most CONNECT_WINDOW connecting at once. */
function launch(start: StartJob): void {
  job = start;
  seqCount = new Uint32Array(start.capacity);
  seqLastMs = new Float64Array(start.capacity);
  for (let i = 0; i < start.count; i++) {
    const index = start.first + i;
    const address = start.addresses.length > 0 ? start.addresses[index % start.addresses.length] : undefined;
    subscribers.push({
      client: start.client === 'node' ? new NodeClient(agent, start.port, address, meter) : new RawClient(start.port, address, meter),
      address,
      state: ADAPTERS[start.target].start(),
      seen: new Uint8Array(start.capacity),
      order: new Int32Array(start.capacity),
      distinct: 0,
      errors: 0,
      ready: false,
    });
  }
  let next = 0;
  let connecting = 0;
  const openMore = (): void => {
    // Bounded: at most `count` subscribers are started in all.
    while (!stopped && connecting < CONNECT_WINDOW && next < subscribers.length) {
      const sub = subscribers[next++]!;
      connecting++;
      const connected = (): void => {
        connecting--;
        setImmediate(openMore);
      };
      const transport = ADAPTERS[start.target].transport;
      void (transport === 'sse' || transport === 'ws' ? follow(sub, start, connected) : loop(sub, start, connected));
    }
  };
  openMore();
}

/** Messages a subscriber got after one the server had stored later (by the server's order). */
function countOutOfOrder(rank: number[]): void {
  for (const sub of subscribers) {
    let highest = -1;
    for (let i = 0; i < sub.distinct; i++) {
      const r = rank[sub.order[i]!] ?? -1;
      if (r < 0) continue;
      if (r < highest) outOfOrder++;
      else highest = r;
    }
  }
}

function result(): SubscriberResult {
  const end = cpuAtLast ?? process.cpuUsage();
  const cpu = markCpu ? (end.user - markCpu.user + end.system - markCpu.system) / 1e6 : 0;
  const windowSeconds = markMs > 0 ? Math.max(0, (lastReceiveMs || nowMs()) - markMs) / 1000 : 0;
  return {
    type: 'result',
    distinct: subscribers.map((s) => s.distinct),
    deliveries,
    duplicates,
    outOfOrder,
    missedFlags,
    garbage,
    errors,
    responses,
    firstReceiveMs,
    lastReceiveMs,
    histogram: Array.from(histogram),
    seqCount: Array.from(seqCount),
    seqLastMs: Array.from(seqLastMs),
    cpuSeconds: cpu,
    windowSeconds,
    bytesRead: stopBytes.read - markBytes.read,
    bytesWritten: stopBytes.written - markBytes.written,
  };
}

function stop(): void {
  stopped = true;
  stopBytes = meter.totals();
  for (const sub of subscribers) sub.client.destroy();
  for (const stream of streams) stream.close();
  agent.destroy();
}

process.on('message', (message: ToSubscribers) => {
  switch (message.type) {
    case 'start': {
      launch(message);
      // Whatever happens, this process ends a little after its deadline.
      setTimeout(() => process.exit(3), Math.max(0, message.deadlineMs - nowMs()) + 30_000).unref();
      break;
    }
    case 'mark':
      markCpu = process.cpuUsage();
      markMs = nowMs();
      markBytes = meter.totals();
      break;
    case 'status':
      send({
        type: 'status',
        distinct: distinctTotal,
        lastReceiveMs,
        seqCount: seqCount[message.seq] ?? 0,
        seqLastMs: seqLastMs[message.seq] ?? 0,
      });
      break;
    case 'stop':
      stop();
      countOutOfOrder(message.rank);
      send(result());
      process.disconnect();
      break;
  }
});
process.on('disconnect', () => {
  if (!stopped) stop();
});
