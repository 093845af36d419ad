/**
 * The capacity model of bench/CAPACITY.md, recomputed from one bench run's JSON lines: what each
 * part costs (server CPU per delivery and per held connection, memory per held connection, Redis
 * CPU and round trips per publish and per answer, bytes on the wire per delivery), then how many
 * instances and how much Redis it takes to hold S subscribers on channels of F subscribers each,
 * every channel publishing `--rate` messages a second, and what runs out first.
 *
 *   npm run capacity -- bench/results/<run>.jsonl [--subscribers 100000,1000000] [--fanout 100,10000]
 *     [--rate 1] [--instance-cores 0.7] [--instance-memory-mib 2048] [--nic-gbit 10]
 *     [--redis-cores 0.7] [--xread-us-per-channel 1.5] [--poll-timeout-s 25] [--heartbeat-s 15]
 *
 * Every figure is the median over the run's repetitions.
 */
import { parseArgs } from 'node:util';
import { bytesPerDelivery, load, median, redisBusyCpu } from './results.js';
import type { CaseResult, Scenario } from './results.js';
import type { TargetName } from './wire.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    subscribers: { type: 'string', default: '100000,1000000' },
    fanout: { type: 'string', default: '100,10000' },
    rate: { type: 'string', default: '1' },
    'instance-cores': { type: 'string', default: '0.7' },
    'instance-memory-mib': { type: 'string', default: '2048' },
    'nic-gbit': { type: 'string', default: '10' },
    'redis-cores': { type: 'string', default: '0.7' },
    'xread-us-per-channel': { type: 'string', default: '1.5' },
    'poll-timeout-s': { type: 'string', default: '25' },
    'heartbeat-s': { type: 'string', default: '15' },
  },
});

function positive(name: string, raw: string): number {
  const value = Number(raw);
  if (!(value > 0 && Number.isFinite(value))) {
    process.stderr.write(`capacity: --${name} must be a positive number, got ${raw}\n`);
    process.exit(2);
  }
  return value;
}
const numbers = (name: string, raw: string): number[] => raw.split(',').map((item) => positive(name, item.trim()));

const file = positionals[0];
if (file === undefined) {
  process.stderr.write('usage: node dist-bench/capacity.js bench/results/<run>.jsonl [--subscribers …] (see bench/CAPACITY.md)\n');
  process.exit(2);
}
const SUBSCRIBERS = numbers('subscribers', flags.subscribers);
const FANOUTS = numbers('fanout', flags.fanout);
const RATE = positive('rate', flags.rate);
const INSTANCE_CORES = positive('instance-cores', flags['instance-cores']);
const INSTANCE_BYTES = positive('instance-memory-mib', flags['instance-memory-mib']) * 1024 * 1024;
const NIC_BITS = positive('nic-gbit', flags['nic-gbit']) * 1e9;
const REDIS_CORES = positive('redis-cores', flags['redis-cores']);
const XREAD_US_PER_CHANNEL = positive('xread-us-per-channel', flags['xread-us-per-channel']);
const KEEPALIVE_S = {
  longpoll: positive('poll-timeout-s', flags['poll-timeout-s']),
  stream: positive('heartbeat-s', flags['heartbeat-s']),
};

const { records } = load(file);

// ---------------------------------------------------------------------------
// The figures, medians over repetitions

/** The run's case of a scenario: its largest (or smallest) number of subscribers. */
function caseOf(scenario: Scenario, pick: 'smallest' | 'largest'): CaseResult[] {
  const sizes = [...new Set(records.filter((r) => r.scenario === scenario).map((r) => r.subscribers))].sort((a, b) => a - b);
  const size = pick === 'largest' ? sizes[sizes.length - 1] : sizes[0];
  return records.filter((r) => r.scenario === scenario && r.subscribers === size);
}

/** The median of `value` over a target's results in those records; NaN without any. */
function med(list: CaseResult[], target: TargetName, value: (r: CaseResult) => number): number {
  return median(
    list
      .filter((r) => r.target === target)
      .map(value)
      .filter(Number.isFinite)
      .sort((a, b) => a - b),
  );
}

const B = caseOf('B', 'largest');
const C = caseOf('C', 'largest');
const A = caseOf('A', 'largest');

interface TransportFigures {
  name: string;
  target: TargetName;
  /** Server CPU µs per delivery, one message per answer or frame (B), and in bursts (A). */
  cpuB: number;
  cpuA: number;
  /** Server CPU µs to accept, answer and park one connection (C). */
  setupUs: number;
  memBytes: number;
  /** Bytes the subscriber reads per delivery (B). */
  wireB: number;
  /** One publish reaching every held connection of one instance, µs per connection (C). */
  fanoutUs: number;
  keepaliveS: number;
}

function transport(name: string, target: TargetName, keepaliveS: number): TransportFigures {
  const subs = C.find((r) => r.target === target)?.subscribers ?? NaN;
  return {
    name,
    target,
    cpuB: med(B, target, (r) => r.cpuUsPerDelivery),
    cpuA: med(A, target, (r) => r.cpuUsPerDelivery),
    setupUs: med(C, target, (r) => (r.setupCpuSeconds * 1e6) / r.subscribers),
    memBytes: med(C, target, (r) => r.bytesPerHeldPoll ?? NaN),
    wireB: med(B, target, bytesPerDelivery),
    fanoutUs: med(C, target, (r) => (median([...r.fanoutMs].sort((a, b) => a - b)) * 1000) / subs),
    keepaliveS,
  };
}

const TRANSPORTS = [
  transport('long poll', 'pollcast', KEEPALIVE_S.longpoll),
  transport('SSE', 'pollcast-sse', KEEPALIVE_S.stream),
  transport('WebSocket', 'pollcast-ws', KEEPALIVE_S.stream),
].filter((t) => Number.isFinite(t.cpuB));

/** Redis figures of one target on Redis in B: per publish, per answer, and the instances' own CPU per delivery. */
function redisFigures(target: TargetName) {
  const withRedis = B.filter((r) => r.target === target && r.redis !== null);
  const per = (value: (r: CaseResult) => number) => med(withRedis, target, value);
  return {
    instances: target === 'pollcast-redis' ? 2 : 1,
    redisUsPerPublish: per((r) => (redisBusyCpu(r.redis!) * 1e6) / r.published),
    xreadsPerPublish: per((r) => r.redis!.xreads / r.published),
    tripsPerPublish: per((r) => r.redis!.roundTrips / r.published),
    tripsPerAnswer: per((r) => r.redis!.roundTrips / r.responses),
    nodeUsPerDelivery: per((r) => ((r.serverCpuSeconds - r.redis!.cpuSeconds) * 1e6) / r.deliveries),
    memBytes: med(C, target, (r) => r.bytesPerHeldPoll ?? NaN),
  };
}
const ONE = redisFigures('pollcast-redis-1');
const TWO = redisFigures('pollcast-redis');
const memoryLongPollUs = TRANSPORTS.find((t) => t.target === 'pollcast')?.cpuB ?? NaN;

/**
 * Redis's CPU per publish as `a + b × (XREAD replies per publish)`: one instance and two give two
 * equations (the second instance adds its XREAD replies). When the run lacks one, or the two do
 * not separate (noise), everything is put on `a`, with `b` 0.
 */
function splitRedis(): { a: number; b: number } {
  const dx = TWO.xreadsPerPublish - ONE.xreadsPerPublish;
  const dy = TWO.redisUsPerPublish - ONE.redisUsPerPublish;
  if (Number.isFinite(dx) && Number.isFinite(dy) && dx > 0.1 && dy > 0) {
    const b = dy / dx;
    return { a: Math.max(0, ONE.redisUsPerPublish - ONE.xreadsPerPublish * b), b };
  }
  const a = Number.isFinite(ONE.redisUsPerPublish) ? ONE.redisUsPerPublish : TWO.redisUsPerPublish;
  return { a, b: 0 };
}
const { a: REDIS_A, b: REDIS_B } = splitRedis();
/** The instances' CPU per delivery on Redis ÷ in memory, long poll, B. */
const REDIS_OVERHEAD = Number.isFinite(ONE.nodeUsPerDelivery / memoryLongPollUs) ? ONE.nodeUsPerDelivery / memoryLongPollUs : 1;
/** XREAD replies per publish per watching instance at B's rate (≤ 1: a reply may carry several entries). */
const XREADS_PER_PUBLISH = Math.min(1, Number.isFinite(ONE.xreadsPerPublish) ? ONE.xreadsPerPublish : 1);

// ---------------------------------------------------------------------------
// The model

interface Plan {
  transport: string;
  subscribers: number;
  fanout: number;
  channels: number;
  publishes: number;
  deliveries: number;
  byCpu: number;
  byMemory: number;
  byNetwork: number;
  instances: number;
  /** Channels one instance watches (has a subscriber of). */
  watched: number;
  redisCores: number;
  shards: number;
  /** One publish reaching a channel's subscribers on one instance, ms; and the most messages/s one channel can take there. */
  channelFanoutMs: number;
  channelMaxRate: number;
  bottleneck: string;
}

/** Redis cores for `shards` shards' busiest one: publishes, and each watching instance's XREAD cycles over its channels there. */
function redisCoresPerShard(channels: number, instances: number, watched: number, shards: number): number {
  const publishes = channels * RATE;
  const perInstancePublishes = (publishes / shards) * (watched / channels);
  const keysPerRead = watched / shards;
  // An XREAD cycle costs its reply (b) and blocking on every key it names; a loop cannot cycle faster than Redis serves it.
  const cycleUs = REDIS_B + keysPerRead * XREAD_US_PER_CHANNEL;
  const cycles = Math.min(perInstancePublishes * XREADS_PER_PUBLISH, 1e6 / Math.max(1, cycleUs));
  return ((publishes / shards) * REDIS_A + instances * cycles * cycleUs) / 1e6;
}

function plan(t: TransportFigures, subscribers: number, fanout: number): Plan {
  const channels = Math.ceil(subscribers / fanout);
  const publishes = channels * RATE;
  const deliveries = subscribers * RATE;
  const usPerDelivery = t.cpuB * REDIS_OVERHEAD;
  const idleUsPerSecond = (subscribers * t.cpuB) / t.keepaliveS;
  const byCpu = Math.ceil((deliveries * usPerDelivery + idleUsPerSecond) / 1e6 / INSTANCE_CORES);
  const byMemory = Math.ceil((subscribers * t.memBytes) / INSTANCE_BYTES);
  const byNetwork = Math.ceil((deliveries * t.wireB * 8) / NIC_BITS);
  const instances = Math.max(1, ...[byCpu, byMemory, byNetwork].filter(Number.isFinite));
  // Subscribers land on instances at random: an instance watches a channel when at least one of its subscribers is there.
  const watched = channels * (1 - (1 - 1 / instances) ** fanout);
  const redisCores = redisCoresPerShard(channels, instances, watched, 1);
  let shards = 1;
  // Bounded: at most 1024 shards.
  while (shards < 1024 && redisCoresPerShard(channels, instances, watched, shards) > REDIS_CORES) shards++;
  const perInstance = Math.max(1, fanout / instances);
  const channelFanoutMs = (perInstance * t.fanoutUs) / 1000;
  const channelMaxRate = (INSTANCE_CORES * 1e6) / (perInstance * usPerDelivery);
  const limits: [string, number][] = [
    ['one Redis core', redisCores / REDIS_CORES],
    ['instance CPU', byCpu / instances],
    ['instance memory', byMemory / instances],
    ['network', byNetwork / instances],
    ["one channel's fan-out on one instance", RATE / channelMaxRate],
  ];
  const worst = limits.filter(([, load]) => Number.isFinite(load)).reduce((x, y) => (y[1] > x[1] ? y : x), ['–', 0]);
  return {
    transport: t.name,
    subscribers,
    fanout,
    channels,
    publishes,
    deliveries,
    byCpu,
    byMemory,
    byNetwork,
    instances,
    watched,
    redisCores,
    shards,
    channelFanoutMs,
    channelMaxRate,
    bottleneck: worst[1] > 1 && worst[0] === 'one Redis core' ? `one Redis core (${shards} shards)` : worst[0],
  };
}

// ---------------------------------------------------------------------------
// Output

const f = (value: number, digits = 0): string =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';
const si = (value: number): string =>
  value >= 1e6
    ? `${f(value / 1e6, value % 1e6 ? 1 : 0)}M`
    : value >= 1e3
      ? `${f(value / 1e3, value % 1e3 ? 1 : 0)}k`
      : f(value, value % 1 ? 1 : 0);

function markdown(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

const out: string[] = [];
out.push(`Figures from ${file} (${records.length} results, medians over repetitions):\n`);
out.push(
  markdown(
    [
      'transport',
      'CPU µs/delivery, B (A)',
      'CPU µs/connection set up',
      'memory KB/held',
      'bytes read/delivery, B',
      'fan-out µs/connection, C',
    ],
    TRANSPORTS.map((t) => [
      t.name,
      `${f(t.cpuB, 1)} (${f(t.cpuA, 1)})`,
      f(t.setupUs, 1),
      f(t.memBytes / 1024, 1),
      f(t.wireB),
      f(t.fanoutUs, 1),
    ]),
  ),
);
out.push('');
out.push(
  markdown(
    [
      'on Redis, B',
      'Redis CPU µs/publish',
      'XREAD/publish',
      'round trips/publish',
      'round trips/answer',
      'instances µs/delivery',
      'memory KB/held (C, all processes)',
    ],
    [ONE, TWO].map((r) => [
      `${r.instances} instance${r.instances > 1 ? 's' : ''}`,
      f(r.redisUsPerPublish, 1),
      f(r.xreadsPerPublish, 2),
      f(r.tripsPerPublish, 2),
      f(r.tripsPerAnswer, 3),
      f(r.nodeUsPerDelivery, 1),
      f(r.memBytes / 1024, 1),
    ]),
  ),
);
out.push('');
out.push(
  `Redis per publish = a + b × XREAD replies: a = ${f(REDIS_A, 1)} µs, b = ${f(REDIS_B, 1)} µs; each XREAD also costs ` +
    `${f(XREAD_US_PER_CHANNEL, 2)} µs per channel it names (--xread-us-per-channel). Instances on Redis: ` +
    `${f(REDIS_OVERHEAD, 2)}× the in-memory CPU per delivery.`,
);
out.push(
  `Parameters: ${RATE} msg/s per channel; an instance may use ${INSTANCE_CORES} core, ${f(INSTANCE_BYTES / 1048576)} MiB, ` +
    `${f(NIC_BITS / 1e9)} Gbit/s; Redis ${REDIS_CORES} core; a held long poll is answered every ${KEEPALIVE_S.longpoll} s, a stream ` +
    `beats every ${KEEPALIVE_S.stream} s; subscribers spread evenly over instances.\n`,
);
const plans = SUBSCRIBERS.flatMap((s) => FANOUTS.flatMap((fan) => TRANSPORTS.map((t) => plan(t, s, fan))));
out.push(
  markdown(
    [
      'subscribers',
      'fan-out',
      'transport',
      'channels',
      'publishes/s',
      'deliveries/s',
      'instances (CPU / memory / network)',
      'channels watched per instance',
      'one Redis: cores',
      'Redis shards',
      'one channel on one instance: fan-out ms, max msg/s',
      'first bottleneck',
    ],
    plans.map((p) => [
      si(p.subscribers),
      si(p.fanout),
      p.transport,
      si(p.channels),
      si(p.publishes),
      si(p.deliveries),
      `**${p.instances}** (${p.byCpu} / ${p.byMemory} / ${p.byNetwork})`,
      si(p.watched),
      f(p.redisCores, 2),
      String(p.shards),
      `${f(p.channelFanoutMs, 1)}, ${si(p.channelMaxRate)}`,
      p.bottleneck,
    ]),
  ),
);
process.stdout.write(`${out.join('\n')}\n`);
