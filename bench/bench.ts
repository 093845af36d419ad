/**
 * The benchmark: pollcast against the classic demo (the baseline) and nchan, over real HTTP on
 * 127.0.0.1. Each case forks a fresh server the way its users do, parks N long polls (in
 * subscriber processes of its own), publishes, and measures what arrived, how fast, and what it
 * cost the server (CPU from /proc/<pid>/stat, memory from /proc/<pid>/status).
 *
 *   npm run bench [-- --quick] [-- --targets pollcast,nchan-multipart --scenarios A,C --png]
 *
 * A  fan-out throughput: 100 and 1000 subscribers, 2000 messages, 8 publishes in flight.
 * B  paced latency: 1000 subscribers, 50 messages/s for 10 s.
 * C  idle capacity: 5000 and 10000 held polls: memory per poll, time for one message to reach all.
 *
 * Targets: pollcast (JSON long poll), the baseline, nchan and nchan-multipart, and pollcast again
 * over its other transports: pollcast-sse (/events), pollcast-ws (/ws), pollcast-poll (/messages
 * every --poll-interval ms), and pollcast-jwt (the long poll with signed tokens on), compared with
 * pollcast's long poll in a table of their own.
 *
 * Writes bench/results/<timestamp>.jsonl and bench/results/report.html; prints a table.
 * Every loop is bounded in count and time; all traffic stays on 127.0.0.0/8.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NodeClient, RawClient } from './http1.js';
import type { Client } from './http1.js';
import { writeReport } from './report.js';
import { nchanMissing, POLLCAST_ARGS, redisMissing, setNodeServerOptions, startServer } from './targets.js';
import type { Server } from './targets.js';
import {
  ADAPTERS, BUCKETS, bucketMs, cpuSeconds, isTarget, messageText, nowMs, peakRssBytes, percentile, rssBytes, TARGETS,
} from './wire.js';
import type { ClientKind, FromSubscribers, Status, SubscriberResult, TargetName, ToSubscribers } from './wire.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');
const SUBSCRIBER_SCRIPT = fileURLToPath(new URL('./subscribers.js', import.meta.url));

// ---------------------------------------------------------------------------
// Settings

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    targets: { type: 'string', default: TARGETS.join(',') },
    scenarios: { type: 'string', default: 'A,B,C' },
    'gen-procs': { type: 'string', default: '2' },
    client: { type: 'string', default: 'raw' },
    size: { type: 'string', default: '64' },
    'a-subscribers': { type: 'string' },
    'a-messages': { type: 'string' },
    'a-inflight': { type: 'string', default: '8' },
    'b-subscribers': { type: 'string' },
    'b-rate': { type: 'string', default: '50' },
    'b-seconds': { type: 'string' },
    'c-polls': { type: 'string' },
    'c-rounds': { type: 'string' },
    'poll-interval': { type: 'string', default: '250' },
    png: { type: 'boolean', default: false },
    from: { type: 'string' },
    'server-node-options': { type: 'string', default: '' },
    'server-log': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (flags.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*?|^ \* ?/gm, '') + '\n');
  process.exit(0);
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function whole(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) fail(`--${name} must be a whole number from ${min} to ${max}, got ${raw}`);
  return value;
}

function list(name: string, raw: string, min: number, max: number): number[] {
  return raw.split(',').map((item) => whole(name, item.trim(), min, max));
}

const QUICK = flags.quick;
const targets = flags.targets.split(',').map((t) => t.trim());
for (const t of targets) if (!isTarget(t)) fail(`unknown target ${t} (known: ${TARGETS.join(', ')})`);
const scenarios = flags.scenarios.split(',').map((s) => s.trim().toUpperCase());
for (const s of scenarios) if (!['A', 'B', 'C'].includes(s)) fail(`unknown scenario ${s} (known: A, B, C)`);

const CLIENT: ClientKind = flags.client === 'node' ? 'node' : 'raw';
if (flags.client !== 'raw' && flags.client !== 'node') fail(`--client must be raw or node, got ${flags.client}`);
const GEN_PROCS = whole('gen-procs', flags['gen-procs'], 1, 8);
const SIZE = whole('size', flags.size, 24, 65_536);
const A_SUBSCRIBERS = list('a-subscribers', flags['a-subscribers'] ?? (QUICK ? '50,200' : '100,1000'), 1, 20_000);
const A_MESSAGES = whole('a-messages', flags['a-messages'] ?? (QUICK ? '300' : '2000'), 1, 100_000);
const A_INFLIGHT = whole('a-inflight', flags['a-inflight'], 1, 256);
const B_SUBSCRIBERS = whole('b-subscribers', flags['b-subscribers'] ?? (QUICK ? '200' : '1000'), 1, 20_000);
const B_RATE = whole('b-rate', flags['b-rate'], 1, 10_000);
const B_SECONDS = whole('b-seconds', flags['b-seconds'] ?? (QUICK ? '2' : '10'), 1, 600);
const C_POLLS = list('c-polls', flags['c-polls'] ?? (QUICK ? '500,1000' : '5000,10000'), 1, 16_000);
const C_ROUNDS = whole('c-rounds', flags['c-rounds'] ?? (QUICK ? '2' : '3'), 1, 20);
const POLL_INTERVAL_MS = whole('poll-interval', flags['poll-interval'], 10, 60_000);

setNodeServerOptions({
  execArgv: flags['server-node-options'].split(' ').filter((arg) => arg !== ''),
  log: flags['server-log'],
});

const CHANNEL = 'bench';
const DRAIN_QUIET_MS = 1_000; // after the last publish: no delivery for this long means done
const DRAIN_MAX_MS = 30_000;
const SATURATED = 0.9; // of one core

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Cases

type Scenario = 'A' | 'B' | 'C';

interface Case {
  scenario: Scenario;
  name: string;
  subscribers: number;
  /** Messages planned (sequence numbers 0 .. messages - 1). */
  messages: number;
  deadlineMs: number;
}

const cases: Case[] = [];
if (scenarios.includes('A')) {
  for (const n of A_SUBSCRIBERS) cases.push({ scenario: 'A', name: `A ${n} subs`, subscribers: n, messages: A_MESSAGES, deadlineMs: 120_000 });
}
if (scenarios.includes('B')) {
  cases.push({ scenario: 'B', name: `B ${B_SUBSCRIBERS} subs`, subscribers: B_SUBSCRIBERS, messages: B_RATE * B_SECONDS, deadlineMs: B_SECONDS * 1000 + 90_000 });
}
if (scenarios.includes('C')) {
  for (const n of C_POLLS) cases.push({ scenario: 'C', name: `C ${n} held`, subscribers: n, messages: C_ROUNDS, deadlineMs: 150_000 });
}

// ---------------------------------------------------------------------------
// The record of one (target, case)

export interface CaseResult {
  type: 'result';
  run: string;
  target: TargetName;
  scenario: Scenario;
  case: string;
  subscribers: number;
  parked: number;
  planned: number;
  published: number;
  publishErrors: number;
  publishedPerSecond: number;
  deliveries: number;
  deliveriesPerSecond: number;
  completeness: { min: number; median: number; mean: number };
  duplicates: number;
  outOfOrder: number;
  missedFlags: number;
  errors: number;
  responses: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** [ms, fraction of deliveries at or below] */
  latencyCdf: [number, number][];
  seconds: number;
  serverCpuSeconds: number;
  serverCores: number;
  cpuUsPerDelivery: number;
  serverRssBytes: number;
  serverPeakRssBytes: number;
  idleRssBytes: number;
  heldRssBytes: number;
  bytesPerHeldPoll: number | null;
  fanoutMs: number[];
  generatorCpuSeconds: number;
  generatorCores: number;
  generatorSaturated: boolean;
  version: string;
  notes: string[];
}

export interface RunInfo {
  type: 'run';
  run: string;
  node: string;
  cpuModel: string;
  cores: number;
  loadAverage: number[];
  argv: string[];
  quick: boolean;
  pollcastArgs: string[];
  generatorProcesses: number;
  messageBytes: number;
  client: ClientKind;
}

// ---------------------------------------------------------------------------
// Helpers over HTTP and /proc

const controlAgent = new Agent({ keepAlive: false });

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: controlAgent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function waiting(server: Server): Promise<number> {
  const adapter = ADAPTERS[server.target];
  try {
    let sum = 0;
    for (const port of server.subscriberPorts ?? [server.port]) sum += adapter.waiting((await get(port, adapter.statsPath)).body);
    return sum;
  } catch {
    return NaN;
  }
}

/**
 * Polls the server's count of parked polls until it is `n`; returns the last count seen.
 * Interval polls hold nothing on the server: for them there is nothing to wait for.
 */
async function untilParked(server: Server, n: number, ms: number): Promise<number> {
  if (ADAPTERS[server.target].transport === 'poll') return n;
  const until = Date.now() + ms;
  let seen = NaN;
  // Bounded by time.
  while (Date.now() < until) {
    seen = await waiting(server);
    if (seen >= n) return seen;
    await sleep(50);
  }
  return seen;
}

const serverCpu = (server: Server): number => server.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
const serverRss = (server: Server): number => server.pids.reduce((sum, pid) => sum + rssBytes(pid), 0);
const serverPeakRss = (server: Server): number => server.pids.reduce((sum, pid) => sum + peakRssBytes(pid), 0);

/** Loopback source addresses this system lets us connect from, besides 127.0.0.1. */
async function sourceAddresses(): Promise<string[]> {
  const probe = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  const usable: string[] = [];
  for (let i = 2; i <= 9; i++) {
    const from = `127.0.0.${i}`;
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress: from });
      const timer = setTimeout(() => resolve(false), 1_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ok) usable.push(from);
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return usable;
}

// ---------------------------------------------------------------------------
// Subscriber processes

class Generator {
  readonly child: ChildProcess;
  private readonly waiters: ((message: FromSubscribers) => boolean)[] = [];
  private exited = false;

  constructor() {
    this.child = fork(SUBSCRIBER_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: FromSubscribers) => {
      const index = this.waiters.findIndex((accept) => accept(message));
      if (index >= 0) this.waiters.splice(index, 1);
    });
    this.child.once('exit', () => {
      this.exited = true;
    });
  }

  send(message: ToSubscribers): void {
    if (this.child.connected) this.child.send(message);
  }

  /** The next message of the given type, or undefined after `ms`. */
  next<T extends FromSubscribers['type']>(type: T, ms: number): Promise<Extract<FromSubscribers, { type: T }> | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      this.waiters.push((message) => {
        if (message.type !== type) return false;
        clearTimeout(timer);
        resolve(message as Extract<FromSubscribers, { type: T }>);
        return true;
      });
    });
  }

  async status(seq: number): Promise<Status | undefined> {
    const answer = this.next('status', 5_000);
    this.send({ type: 'status', seq });
    return answer;
  }

  async finish(rank: number[]): Promise<SubscriberResult | undefined> {
    const answer = this.next('result', 20_000);
    this.send({ type: 'stop', rank });
    const result = await answer;
    await this.kill();
    return result;
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const late = await Promise.race([gone.then(() => false), sleep(3_000).then(() => true)]);
    if (late && !this.exited && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
  }
}

// ---------------------------------------------------------------------------
// Publishing

/** Publishes over up to `inflight` keep-alive connections of its own, one request each at a time. */
class Publisher {
  readonly sentMs: Float64Array;
  /** The server's order key of each message (NaN: unknown). */
  readonly orderKey: Float64Array;
  published = 0;
  errors = 0;
  private readonly server: Server;
  private readonly idle: Client[] = [];
  private readonly all: Client[] = [];
  private readonly agent = new Agent({ keepAlive: true });

  constructor(server: Server, capacity: number) {
    this.server = server;
    this.sentMs = new Float64Array(capacity);
    this.orderKey = new Float64Array(capacity).fill(NaN);
  }

  /** rank[seq]: place of each message in the server's order; -1 where unknown. */
  ranks(): number[] {
    const known: number[] = [];
    for (let seq = 0; seq < this.orderKey.length; seq++) if (Number.isFinite(this.orderKey[seq])) known.push(seq);
    known.sort((a, b) => this.orderKey[a]! - this.orderKey[b]!);
    const rank = new Array<number>(this.orderKey.length).fill(-1);
    known.forEach((seq, i) => (rank[seq] = i));
    return rank;
  }

  async publish(seq: number): Promise<boolean> {
    const adapter = ADAPTERS[this.server.target];
    let client = this.idle.pop();
    if (!client) {
      client = CLIENT === 'node' ? new NodeClient(this.agent, this.server.port) : new RawClient(this.server.port);
      this.all.push(client);
    }
    const sent = nowMs();
    this.sentMs[seq] = sent;
    const body = messageText(seq, sent, SIZE);
    let ok = false;
    try {
      const answer = await withTimeout(
        client.send('POST', adapter.publishPath(CHANNEL), { 'Content-Type': 'text/plain; charset=utf-8', ...adapter.publishHeaders?.() }, body),
        30_000,
      );
      ok = adapter.publishOk(answer.status);
      if (ok) this.orderKey[seq] = adapter.orderKey(answer);
    } catch {
      client.destroy(); // a new connection next time
    }
    if (ok) this.published++;
    else this.errors++;
    this.idle.push(client);
    return ok;
  }

  close(): void {
    for (const client of this.all) client.destroy();
    this.agent.destroy();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** As fast as possible with `inflight` publishes in flight; returns when all are answered. */
async function publishFlat(publisher: Publisher, messages: number, inflight: number, until: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    // Bounded: `messages` in all, and by time.
    while (next < messages && nowMs() < until) await publisher.publish(next++);
  };
  await Promise.all(Array.from({ length: inflight }, lane));
}

/** `rate` per second, on schedule whatever the answers do; returns when all are answered. */
async function publishPaced(publisher: Publisher, messages: number, rate: number, until: number): Promise<void> {
  const start = nowMs();
  const pending: Promise<boolean>[] = [];
  for (let seq = 0; seq < messages && nowMs() < until; seq++) {
    const due = start + (seq * 1000) / rate;
    const wait = due - nowMs();
    if (wait > 1) await sleep(wait);
    pending.push(publisher.publish(seq));
  }
  await Promise.all(pending);
}

// ---------------------------------------------------------------------------
// One case against one target

interface Totals {
  distinct: number;
  lastReceiveMs: number;
  seqCount: number;
  seqLastMs: number;
}

async function totals(generators: Generator[], seq: number): Promise<Totals> {
  const all = await Promise.all(generators.map((g) => g.status(seq)));
  const sum: Totals = { distinct: 0, lastReceiveMs: 0, seqCount: 0, seqLastMs: 0 };
  for (const s of all) {
    if (!s) continue;
    sum.distinct += s.distinct;
    sum.lastReceiveMs = Math.max(sum.lastReceiveMs, s.lastReceiveMs);
    sum.seqCount += s.seqCount;
    sum.seqLastMs = Math.max(sum.seqLastMs, s.seqLastMs);
  }
  return sum;
}

/** Until every subscriber has every message, or no delivery came for DRAIN_QUIET_MS. */
async function drain(generators: Generator[], subscribers: number, published: () => number): Promise<void> {
  const until = Date.now() + DRAIN_MAX_MS;
  let last = -1;
  let quietSince = Date.now();
  // Bounded by time.
  while (Date.now() < until) {
    const t = await totals(generators, 0);
    if (t.distinct >= subscribers * published()) return;
    if (t.lastReceiveMs !== last) {
      last = t.lastReceiveMs;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= DRAIN_QUIET_MS) {
      return;
    }
    await sleep(50);
  }
}

function median(sorted: number[]): number {
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function cdf(histogram: number[]): [number, number][] {
  const total = histogram.reduce((a, b) => a + b, 0);
  const points: [number, number][] = [];
  if (total === 0) return points;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    const count = histogram[i]!;
    if (count === 0) continue;
    seen += count;
    points.push([bucketMs(i), seen / total]);
  }
  // At most ~200 points for the chart: keep every k-th and the last.
  const k = Math.ceil(points.length / 200);
  return points.filter((_, i) => i % k === 0 || i === points.length - 1);
}

async function runCase(target: TargetName, spec: Case, addresses: string[], run: string): Promise<CaseResult> {
  const notes: string[] = [];
  const server = await startServer(target);
  live.add(server);
  const generators: Generator[] = [];
  try {
    await sleep(300);
    const idleRss = serverRss(server);
    const deadline = nowMs() + spec.deadlineMs;
    const procs = Math.min(GEN_PROCS, spec.subscribers);
    const useAddresses = spec.subscribers >= 2000 ? addresses : [];
    let first = 0;
    for (let p = 0; p < procs; p++) {
      const count = Math.floor(spec.subscribers / procs) + (p < spec.subscribers % procs ? 1 : 0);
      const generator = new Generator();
      generators.push(generator);
      liveGenerators.add(generator);
      generator.send({
        type: 'start', target, port: server.subscriberPorts?.[p % server.subscriberPorts.length] ?? server.port, channel: CHANNEL, first, count,
        addresses: useAddresses, capacity: spec.messages, deadlineMs: deadline, client: CLIENT,
        pollIntervalMs: POLL_INTERVAL_MS,
      });
      first += count;
    }
    const started = await Promise.all(generators.map((g) => g.next('started', 60_000)));
    if (started.some((s) => s === undefined)) notes.push('some subscribers never got their first poll out');
    const parked = await untilParked(server, spec.subscribers, 30_000);
    if (!(parked >= spec.subscribers)) notes.push(`only ${parked} of ${spec.subscribers} polls parked before publishing`);
    await sleep(spec.scenario === 'C' ? 1_000 : 300);
    const heldRss = serverRss(server);

    const publisher = new Publisher(server, spec.messages);
    const cpu0 = serverCpu(server);
    const main0 = process.cpuUsage();
    for (const g of generators) g.send({ type: 'mark' });
    const t0 = nowMs();
    let publishEnd = t0;
    const fanoutMs: number[] = [];

    if (spec.scenario === 'A') {
      await publishFlat(publisher, spec.messages, A_INFLIGHT, deadline - 30_000);
      publishEnd = nowMs();
      await drain(generators, spec.subscribers, () => publisher.published);
    } else if (spec.scenario === 'B') {
      await publishPaced(publisher, spec.messages, B_RATE, deadline - 30_000);
      publishEnd = nowMs();
      await drain(generators, spec.subscribers, () => publisher.published);
    } else {
      for (let round = 0; round < spec.messages; round++) {
        if (round > 0) {
          const again = await untilParked(server, spec.subscribers, 20_000);
          if (!(again >= spec.subscribers)) notes.push(`round ${round + 1}: only ${again} parked`);
          await sleep(500);
        }
        await publisher.publish(round);
        const until = Date.now() + 20_000;
        let t = await totals(generators, round);
        // Bounded by time.
        while (t.seqCount < spec.subscribers && Date.now() < until) {
          await sleep(20);
          t = await totals(generators, round);
        }
        if (t.seqCount < spec.subscribers) notes.push(`round ${round + 1}: ${t.seqCount} of ${spec.subscribers} got the message`);
        fanoutMs.push(t.seqLastMs - publisher.sentMs[round]!);
      }
      publishEnd = nowMs();
    }

    const cpu1 = serverCpu(server);
    const main1 = process.cpuUsage(main0);
    const rssEnd = serverRss(server);
    const peakRss = serverPeakRss(server);
    publisher.close();
    const rank = publisher.ranks();
    const ranked = rank.filter((r) => r >= 0).length;
    if (ranked < publisher.published) notes.push(`the server's order of ${publisher.published - ranked} messages is unknown`);
    const results = (await Promise.all(generators.map((g) => g.finish(rank)))).filter((r): r is SubscriberResult => r !== undefined);
    if (results.length < generators.length) notes.push('a subscriber process did not report');

    // Merge what the subscriber processes saw.
    const histogram = new Array<number>(BUCKETS).fill(0);
    const distinct: number[] = [];
    let deliveries = 0, duplicates = 0, outOfOrder = 0, missedFlags = 0, errors = 0, responses = 0, garbage = 0;
    let lastReceiveMs = 0, genCpu = 0, genMaxCores = 0;
    for (const r of results) {
      for (let i = 0; i < BUCKETS; i++) histogram[i]! += r.histogram[i]!;
      distinct.push(...r.distinct);
      deliveries += r.deliveries;
      duplicates += r.duplicates;
      outOfOrder += r.outOfOrder;
      missedFlags += r.missedFlags;
      errors += r.errors;
      responses += r.responses;
      garbage += r.garbage;
      lastReceiveMs = Math.max(lastReceiveMs, r.lastReceiveMs);
      genCpu += r.cpuSeconds;
      if (r.windowSeconds > 0) genMaxCores = Math.max(genMaxCores, r.cpuSeconds / r.windowSeconds);
    }
    if (garbage > 0) notes.push(`${garbage} answers held text the bench never sent`);
    const seconds = Math.max(1e-3, (Math.max(lastReceiveMs, publishEnd) - t0) / 1000);
    const mainCpu = (main1.user + main1.system) / 1e6;
    genCpu += mainCpu;
    const generatorCores = genCpu / seconds;
    const published = publisher.published;
    const fractions = distinct.map((d) => (published > 0 ? d / published : 0)).sort((a, b) => a - b);
    const serverCpuSeconds = cpu1 - cpu0;
    return {
      type: 'result',
      run,
      target,
      scenario: spec.scenario,
      case: spec.name,
      subscribers: spec.subscribers,
      parked,
      planned: spec.messages,
      published,
      publishErrors: publisher.errors,
      publishedPerSecond: published / Math.max(1e-3, (publishEnd - t0) / 1000),
      deliveries,
      deliveriesPerSecond: deliveries / seconds,
      completeness: {
        min: fractions[0] ?? 0,
        median: median(fractions),
        mean: fractions.reduce((a, b) => a + b, 0) / Math.max(1, fractions.length),
      },
      duplicates,
      outOfOrder,
      missedFlags,
      errors,
      responses,
      latencyMs: {
        p50: percentile(histogram, 50),
        p90: percentile(histogram, 90),
        p99: percentile(histogram, 99),
        max: percentile(histogram, 100),
      },
      latencyCdf: cdf(histogram),
      seconds,
      serverCpuSeconds,
      serverCores: serverCpuSeconds / seconds,
      cpuUsPerDelivery: deliveries > 0 ? (serverCpuSeconds * 1e6) / deliveries : NaN,
      serverRssBytes: rssEnd,
      serverPeakRssBytes: peakRss,
      idleRssBytes: idleRss,
      heldRssBytes: heldRss,
      bytesPerHeldPoll: spec.scenario === 'C' && ADAPTERS[target].transport !== 'poll' ? (heldRss - idleRss) / spec.subscribers : null,
      fanoutMs,
      generatorCpuSeconds: genCpu,
      generatorCores,
      generatorSaturated: generatorCores >= SATURATED || genMaxCores >= SATURATED,
      version: server.version,
      notes,
    };
  } finally {
    await Promise.all(generators.map(async (g) => {
      await g.kill();
      liveGenerators.delete(g);
    }));
    await server.stop();
    live.delete(server);
  }
}

// ---------------------------------------------------------------------------
// Output

const fmt = (value: number, digits = 0): string =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';
const pct = (value: number): string => (Number.isFinite(value) ? `${(value * 100).toFixed(value >= 0.9995 || value === 0 ? 0 : 1)}%` : '–');
const mb = (bytes: number): string => fmt(bytes / 1024 / 1024, 1);

export function table(records: CaseResult[]): string {
  const head = ['case', 'target', 'pub/s', 'deliv/s', 'compl min/med', 'dup', 'ooo', 'p50 ms', 'p90', 'p99', 'max',
    'srv CPU s', 'µs/deliv', 'srv cores', 'RSS MB', 'KB/poll', 'fan-out ms', 'gen cores'];
  const rows = records.map((r) => [
    r.case, r.target,
    r.scenario === 'C' ? '' : fmt(r.publishedPerSecond), r.scenario === 'C' ? '' : fmt(r.deliveriesPerSecond),
    `${pct(r.completeness.min)}/${pct(r.completeness.median)}`, String(r.duplicates), String(r.outOfOrder),
    fmt(r.latencyMs.p50, 1), fmt(r.latencyMs.p90, 1), fmt(r.latencyMs.p99, 1), fmt(r.latencyMs.max, 1),
    fmt(r.serverCpuSeconds, 2), fmt(r.cpuUsPerDelivery, 1), r.scenario === 'C' ? '' : fmt(r.serverCores, 2), mb(r.serverPeakRssBytes),
    r.bytesPerHeldPoll === null ? '' : fmt(r.bytesPerHeldPoll / 1024, 1),
    r.fanoutMs.map((ms) => fmt(ms)).join(' '),
    `${fmt(r.generatorCores, 2)}${r.generatorSaturated ? ' SAT' : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export interface Ratio {
  case: string;
  target: TargetName;
  against: TargetName;
  deliveriesPerSecond: number;
  completenessMedian: number;
  p99: number;
  cpuUsPerDelivery: number;
  bytesPerHeldPoll: number;
  fanoutMs: number;
}

export function ratios(records: CaseResult[]): Ratio[] {
  const out: Ratio[] = [];
  const mid = (xs: number[]) => median([...xs].sort((a, b) => a - b));
  for (const against of ['baseline', 'nchan-multipart', 'pollcast'] as const) {
    for (const r of records) {
      const ref = records.find((x) => x.case === r.case && x.target === against);
      if (!ref || ref === r) continue;
      // The transports (and the long poll with signed tokens on) are compared with pollcast's long poll, and only they.
      if (against === 'pollcast' && ADAPTERS[r.target].transport === 'longpoll' && r.target !== 'pollcast-jwt') continue;
      out.push({
        case: r.case, target: r.target, against,
        deliveriesPerSecond: r.scenario === 'C' ? NaN : r.deliveriesPerSecond / ref.deliveriesPerSecond,
        completenessMedian: r.completeness.median / ref.completeness.median,
        p99: r.latencyMs.p99 / ref.latencyMs.p99,
        cpuUsPerDelivery: r.cpuUsPerDelivery / ref.cpuUsPerDelivery,
        bytesPerHeldPoll: r.bytesPerHeldPoll !== null && ref.bytesPerHeldPoll ? r.bytesPerHeldPoll / ref.bytesPerHeldPoll : NaN,
        fanoutMs: r.fanoutMs.length && ref.fanoutMs.length ? mid(r.fanoutMs) / mid(ref.fanoutMs) : NaN,
      });
    }
  }
  return out;
}

function ratioTable(list: Ratio[]): string {
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
  const head = ['case', 'target', 'vs', 'deliv/s', 'compl med', 'p99', 'µs/deliv', 'KB/poll', 'fan-out'];
  const rows = list.map((r) => [r.case, r.target, r.against, x(r.deliveriesPerSecond), x(r.completenessMedian), x(r.p99),
    x(r.cpuUsPerDelivery), x(r.bytesPerHeldPoll), x(r.fanoutMs)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------
// Main

const live = new Set<Server>();
const liveGenerators = new Set<Generator>();
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  process.stderr.write('\nbench: interrupted, stopping what it started\n');
  void Promise.all([...liveGenerators].map((g) => g.kill()))
    .then(() => Promise.all([...live].map((s) => s.stop())))
    .then(() => process.exit(130));
});

if (flags.from !== undefined) {
  // Report only: rebuild the table and report.html from the JSON lines of an earlier run.
  const lines = readFileSync(flags.from, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { type: string });
  const runInfo = lines.find((l): l is RunInfo => l.type === 'run');
  if (!runInfo) fail(`${flags.from} holds no run record`);
  const old = lines.filter((l): l is CaseResult => l.type === 'result');
  const oldRatios = ratios(old);
  process.stdout.write(`${table(old)}\n\n${ratioTable(oldRatios.filter((r) => r.target === 'pollcast'))}\n`);
  const report = join(RESULTS, 'report.html');
  writeReport(report, runInfo, old, oldRatios);
  process.stdout.write(`${report}\n`);
  if (flags.png) {
    const { renderPng } = await import('./render.js');
    await renderPng(report, join(RESULTS, 'report.png'));
  }
  process.exit(0);
}

const run = new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync(RESULTS, { recursive: true });
const jsonl = join(RESULTS, `${run}.jsonl`);
const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
const info: RunInfo = {
  type: 'run', run, node: process.version, cpuModel, cores: cpus().length, loadAverage: loadavg(),
  argv: process.argv.slice(2), quick: QUICK, pollcastArgs: POLLCAST_ARGS, generatorProcesses: GEN_PROCS, messageBytes: SIZE,
  client: CLIENT,
};
appendFileSync(jsonl, JSON.stringify(info) + '\n');

const missing = nchanMissing();
const chosen = targets.filter((t): t is TargetName => {
  if ((t === 'nchan' || t === 'nchan-multipart') && missing) {
    process.stderr.write(`bench: skipping ${t}: ${missing}\n`);
    return false;
  }
  if (t === 'pollcast-redis' && redisMissing()) {
    process.stderr.write(`bench: skipping ${t}: ${redisMissing()}\n`);
    return false;
  }
  return isTarget(t);
});

process.stdout.write(`pollcast bench ${run}: node ${process.version}, ${info.cores} cores (${cpuModel}), load ${info.loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`);
process.stdout.write(`targets ${chosen.join(', ')}; cases ${cases.map((c) => c.name).join(', ')}${QUICK ? ' (quick)' : ''}\n`);
process.stdout.write('Numbers from a shared 2-core machine are noisy: compare targets within one run, not across runs.\n\n');

const addresses = await sourceAddresses();
const records: CaseResult[] = [];
const began = Date.now();
for (const spec of cases) {
  for (const target of chosen) {
    if (interrupted) break;
    const t = Date.now();
    process.stdout.write(`${spec.name.padEnd(14)} ${target.padEnd(16)} `);
    try {
      const record = await runCase(target, spec, addresses, run);
      records.push(record);
      appendFileSync(jsonl, JSON.stringify(record) + '\n');
      process.stdout.write(
        `${fmt(record.deliveriesPerSecond).padStart(9)} deliv/s  compl ${pct(record.completeness.median).padStart(5)}  ` +
          `p99 ${fmt(record.latencyMs.p99, 1).padStart(7)} ms  ${fmt(record.cpuUsPerDelivery, 1).padStart(6)} µs/deliv  ` +
          `(${((Date.now() - t) / 1000).toFixed(1)} s)${record.notes.length ? '  ! ' + record.notes.join('; ') : ''}\n`,
      );
    } catch (error) {
      process.stdout.write(`FAILED: ${(error as Error).message}\n`);
      appendFileSync(jsonl, JSON.stringify({ type: 'error', run, target, case: spec.name, message: (error as Error).message }) + '\n');
    }
  }
}

const ratioList = ratios(records);
process.stdout.write(`\n${table(records)}\n`);
const ours = ratioList.filter((r) => r.target === 'pollcast');
if (ours.length > 0) process.stdout.write(`\npollcast as ratios (pollcast ÷ reference, same run; >1 means more of it; all targets in the report):\n${ratioTable(ours)}\n`);
const transports = ratioList.filter((r) => r.against === 'pollcast');
if (transports.length > 0) process.stdout.write(`\npollcast's other transports ÷ its long poll (same run):\n${ratioTable(transports)}\n`);
process.stdout.write('\ndeliv/s: messages received by all subscribers together per second, from the first publish to the last delivery.\n');
process.stdout.write('µs/deliv: server CPU (user+sys, /proc) per delivered message; srv cores: that CPU over the run. RSS: server peak.\n');
process.stdout.write('KB/poll: (RSS with N held − RSS idle)/N. fan-out: one publish until all N held polls have it, per round. ooo: against the server\'s own order.\n');
process.stdout.write('gen cores: CPU of the load generator (publisher + subscriber processes) over the run; SAT = ≥ 0.9 core.\n');
const report = join(RESULTS, 'report.html');
writeReport(report, info, records, ratioList);
process.stdout.write(`\n${jsonl}\n${report}\n(${((Date.now() - began) / 1000).toFixed(0)} s)\n`);

if (flags.png) {
  const { renderPng } = await import('./render.js');
  const png = join(RESULTS, 'report.png');
  await renderPng(report, png);
  process.stdout.write(`${png}\n`);
}
