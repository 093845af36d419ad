/**
 * What Redis spends on one instance's blocking reader as the channels it watches grow: one
 * pollcast instance on a redis-server of its own (as `pollcast-redis-1`), K channels with one
 * long poll each, messages published round-robin over them at a steady rate; Redis's CPU and
 * `XREAD` calls from its `INFO` before and after. The capacity model's cost of an `XREAD` per
 * channel it names (`--xread-us-per-channel`, bench/CAPACITY.md) is the slope of these figures.
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node dist-bench/redis-channels.js [1,100,1000] [rate] [seconds]
 *
 * Bounded: at most 2000 channels, 2000 messages/s, 30 s per step; all traffic on 127.0.0.1.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RawClient } from './http1.js';
import { readRedis, redisUsage } from './redis-info.js';
import { redisBusyCpu } from './results.js';
import { untilParked } from './server-probe.js';
import { redisMissing, startPollcastRedis } from './targets.js';
import { ADAPTERS, nowMs } from './wire.js';

const bounded = (raw: string | undefined, fallback: number, max: number): number => {
  const value = Number(raw ?? fallback);
  return Number.isSafeInteger(value) && value >= 1 && value <= max ? value : fallback;
};
const STEPS = (process.argv[2] ?? '1,100,1000').split(',').map((k) => bounded(k, 1, 2000));
const RATE = bounded(process.argv[3], 200, 2000);
const SECONDS = bounded(process.argv[4], 3, 30);

const missing = redisMissing();
if (missing) {
  process.stderr.write(`redis-channels: ${missing}\n`);
  process.exit(2);
}

const adapter = ADAPTERS['pollcast-redis-1'];

/** One long poll per channel until `stopped()`: parks, is answered, parks again from its cursor. */
async function follow(port: number, channel: string, stopped: () => boolean): Promise<void> {
  const client = new RawClient(port);
  let state = adapter.start();
  // Bounded by stopped() (the step's end) and 1000 errors.
  for (let errors = 0; !stopped() && errors < 1000; ) {
    try {
      const answer = await client.send('GET', adapter.subscribePath(channel, state), adapter.subscribeHeaders(state));
      state = adapter.parse(answer, state).next;
    } catch {
      if (!stopped()) errors++;
      await sleep(50);
    }
  }
  client.destroy();
}

process.stdout.write(
  `channels  publishes  XREAD/publish  Redis µs/publish  in commands  Redis µs/XREAD  Redis cores  (${RATE} msg/s for ${SECONDS} s)\n`,
);
const rows: { channels: number; perPublish: number; xreadsPerPublish: number }[] = [];
for (const channels of STEPS) {
  const server = await startPollcastRedis('pollcast-redis-1');
  let stopped = false;
  const followers: Promise<void>[] = [];
  const publisher = new RawClient(server.port);
  try {
    for (let i = 0; i < channels; i++) {
      followers.push(follow(server.port, `c${i}`, () => stopped));
      if (i % 100 === 99) await sleep(20); // the listen backlog
    }
    const parked = await untilParked(server, channels, 30_000);
    if (!(parked >= channels)) throw new Error(`only ${parked} of ${channels} polls parked`);
    await sleep(500);
    const redisPort = server.redisPort!;
    const idle = await readRedis(redisPort);
    await sleep(500);
    const before = await readRedis(redisPort);
    const start = nowMs();
    let published = 0;
    // Bounded: RATE × SECONDS messages, one at a time, on schedule.
    for (let seq = 0; seq < RATE * SECONDS; seq++) {
      const wait = start + (seq * 1000) / RATE - nowMs();
      if (wait > 1) await sleep(wait);
      const answer = await publisher.send('POST', adapter.publishPath(`c${seq % channels}`), { 'content-type': 'text/plain' }, `m${seq}`);
      if (adapter.publishOk(answer.status)) published++;
    }
    await sleep(500);
    const usage = redisUsage(idle, before, await readRedis(redisPort));
    const seconds = (nowMs() - start) / 1000;
    const busy = redisBusyCpu(usage);
    const perPublish = (busy * 1e6) / published;
    const xreadsPerPublish = usage.xreads / published;
    rows.push({ channels, perPublish, xreadsPerPublish });
    process.stdout.write(
      `${String(channels).padStart(8)}  ${String(published).padStart(9)}  ${xreadsPerPublish.toFixed(2).padStart(13)}  ` +
        `${perPublish.toFixed(1).padStart(16)}  ${((usage.commandSeconds * 1e6) / published).toFixed(1).padStart(11)}  ${((busy * 1e6) / Math.max(1, usage.xreads)).toFixed(1).padStart(14)}  ` +
        `${(busy / seconds).toFixed(3).padStart(14)}\n`,
    );
  } finally {
    stopped = true;
    publisher.destroy();
    await server.stop();
    await Promise.all(followers);
  }
}
const first = rows[0];
for (const row of rows.slice(1)) {
  if (!first) break;
  // Redis µs per publish grows by (XREAD replies per publish) × (channels named) × (µs per channel named).
  const slope = (row.perPublish - first.perPublish) / (row.xreadsPerPublish * (row.channels - first.channels));
  process.stdout.write(
    `${row.channels} channels against ${first.channels}: ${slope.toFixed(2)} µs of Redis CPU per channel an XREAD names\n`,
  );
}
