/**
 * One case against one target: fork the server, park the subscribers (in processes of their
 * own), publish, wait for the deliveries, and merge what every process saw into one record.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Generator } from './generator.js';
import { Publisher, publishFlat, publishPaced } from './publisher.js';
import { readRedis, redisUsage } from './redis-info.js';
import type { RedisReading } from './redis-info.js';
import { median } from './results.js';
import type { CaseResult } from './results.js';
import { serverCpu, serverPeakRss, serverRss, untilParked } from './server-probe.js';
import { A_INFLIGHT, B_RATE, CHANNEL, CLIENT, GEN_PROCS, POLL_INTERVAL_MS, SIZE } from './settings.js';
import type { Case } from './settings.js';
import { startServer } from './targets.js';
import type { Server } from './targets.js';
import { ADAPTERS, BUCKETS, bucketMs, nowMs, percentile } from './wire.js';
import type { SubscriberResult, TargetName } from './wire.js';

const DRAIN_QUIET_MS = 1_000; // after the last publish: no delivery for this long means done
const DRAIN_MAX_MS = 30_000;
const SATURATED = 0.9; // of one core

/** What is running now, for a stop on Ctrl-C. */
export const live = new Set<Server>();
export const liveGenerators = new Set<Generator>();

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

/** Runs one case against one target: a fresh server, its subscribers parked, the publishing, the merged record. */
export async function runCase(target: TargetName, spec: Case, addresses: string[], run: string, repetition: number): Promise<CaseResult> {
  const notes: string[] = [];
  const server = await startServer(target);
  live.add(server);
  const generators: Generator[] = [];
  try {
    await sleep(300);
    const idleRss = serverRss(server);
    const setup0 = serverCpu(server);
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
        type: 'start',
        target,
        port: server.subscriberPorts?.[p % server.subscriberPorts.length] ?? server.port,
        channel: CHANNEL,
        first,
        count,
        addresses: useAddresses,
        capacity: spec.messages,
        deadlineMs: deadline,
        client: CLIENT,
        pollIntervalMs: POLL_INTERVAL_MS,
      });
      first += count;
    }
    const started = await Promise.all(generators.map((g) => g.next('started', 60_000)));
    if (started.some((s) => s === undefined)) notes.push('some subscribers never got their first poll out');
    const parked = await untilParked(server, spec.subscribers, 30_000);
    if (!(parked >= spec.subscribers)) notes.push(`only ${parked} of ${spec.subscribers} polls parked before publishing`);
    const redisPort = server.redisPort;
    // Redis's CPU while nothing happens (its timers, the readers' blocking reads), to tell its cost per publish apart.
    const redisIdle: RedisReading | undefined = redisPort === undefined ? undefined : await readRedis(redisPort);
    await sleep(spec.scenario === 'C' ? 1_000 : 300);
    const heldRss = serverRss(server);
    const setupCpuSeconds = serverCpu(server) - setup0;
    const redis0: RedisReading | undefined = redisPort === undefined ? undefined : await readRedis(redisPort);

    const publisher = new Publisher(server, spec.messages, { client: CLIENT, size: SIZE, channel: CHANNEL });
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
    const redis = redisIdle && redis0 && redisPort !== undefined ? redisUsage(redisIdle, redis0, await readRedis(redisPort)) : null;
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
    let deliveries = 0,
      duplicates = 0,
      outOfOrder = 0,
      missedFlags = 0,
      errors = 0,
      responses = 0,
      garbage = 0,
      wireBytesRead = 0,
      wireBytesWritten = 0;
    let lastReceiveMs = 0,
      genCpu = 0,
      genMaxCores = 0;
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
      wireBytesRead += r.bytesRead;
      wireBytesWritten += r.bytesWritten;
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
      repetition,
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
      setupCpuSeconds,
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
      wireBytesRead,
      wireBytesWritten,
      redis,
      version: server.version,
      notes,
    };
  } finally {
    await Promise.all(
      generators.map(async (g) => {
        await g.kill();
        liveGenerators.delete(g);
      }),
    );
    await server.stop();
    live.delete(server);
  }
}
