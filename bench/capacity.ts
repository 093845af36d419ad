/**
 * The capacity model of bench/CAPACITY.md, recomputed from one bench run's JSON lines: what each
 * part costs (server CPU per delivery and per held connection, memory per held connection, Redis
 * CPU and round trips per publish and per answer, bytes on the wire per delivery), then how many
 * instances and how much Redis it takes to hold S subscribers on channels of F subscribers each,
 * every channel publishing `--rate` messages a second, and what runs out first.
 *
 *   npm run capacity -- bench/results/<run>.jsonl [--subscribers 100000,1000000] [--fanout 100,10000]
 *     [--rate 1] [--instance-cores 0.7] [--instance-memory-mib 2048] [--nic-gbit 10]
 *     [--redis-cores 0.7] [--xread-us-per-channel 1.0] [--poll-timeout-s 25] [--heartbeat-s 15]
 *
 * Every figure is the median over the run's repetitions.
 */
import { parseArgs } from 'node:util';
import { bytesPerDelivery, load, median, redisBusyCpu } from './results.js';
import type { CaseResult, Scenario } from './results.js';
import { fmt as f } from './tables.js';
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
    'xread-us-per-channel': { type: 'string', default: '1.0' },
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

/**
 * Redis figures of one target on Redis in B: per publish and per answer, what each round trip
 * costs (its command's time plus an equal share of Redis's CPU outside commands: reading,
 * writing, blocking), and the instances' own CPU per delivery.
 */
function redisFigures(target: TargetName) {
  const withRedis = B.filter((r) => r.target === target && r.redis !== null);
  const per = (value: (r: CaseResult) => number) => med(withRedis, target, value);
  const overhead = (r: CaseResult) => ((redisBusyCpu(r.redis!) - r.redis!.commandSeconds) * 1e6) / r.redis!.roundTrips;
  const scripts = (r: CaseResult) => (r.redis!.calls['evalsha'] ?? 0) + (r.redis!.calls['eval'] ?? 0);
  const scriptUs = (r: CaseResult) => (r.redis!.usec['evalsha'] ?? 0) + (r.redis!.usec['eval'] ?? 0);
  return {
    instances: target === 'pollcast-redis' ? 2 : 1,
    redisUsPerPublish: per((r) => (redisBusyCpu(r.redis!) * 1e6) / r.published),
    scriptsPerPublish: per((r) => scripts(r) / r.published),
    xreadsPerPublish: per((r) => r.redis!.xreads / r.published),
    tripsPerPublish: per((r) => r.redis!.roundTrips / r.published),
    tripsPerAnswer: per((r) => r.redis!.roundTrips / r.responses),
    /** a: one script round trip; b: one XREAD round trip; µs of Redis CPU each. */
    a: per((r) => scriptUs(r) / scripts(r) + Math.max(0, overhead(r))),
    b: per((r) => (r.redis!.usec['xread'] ?? 0) / r.redis!.xreads + Math.max(0, overhead(r))),
    nodeUsPerDelivery: per((r) => ((r.serverCpuSeconds - r.redis!.cpuSeconds) * 1e6) / r.deliveries),
    usPerDelivery: per((r) => r.cpuUsPerDelivery),
    deliveriesPerPublish: per((r) => r.deliveries / r.published),
    memBytes: med(C, target, (r) => r.bytesPerHeldPoll ?? NaN),
  };
}
const ONE = redisFigures('pollcast-redis-1');
const TWO = redisFigures('pollcast-redis');
const memoryLongPollUs = TRANSPORTS.find((t) => t.target === 'pollcast')?.cpuB ?? NaN;
/** The model's costs, from the one-instance target (or the two-instance one when the run lacks it). */
const FROM = Number.isFinite(ONE.a) ? ONE : TWO;
const REDIS_A = FROM.a;
const REDIS_B = Number.isFinite(FROM.b) ? FROM.b : 0;
/** The instances' CPU per delivery on Redis ÷ in memory, long poll, B. */
const REDIS_OVERHEAD = Number.isFinite(FROM.nodeUsPerDelivery / memoryLongPollUs) ? FROM.nodeUsPerDelivery / memoryLongPollUs : 1;
/** XREAD replies per publish per watching instance at B's rate (≤ 1: a reply may carry several entries). */
const XREADS_PER_PUBLISH = Math.min(
  1,
  Number.isFinite(FROM.xreadsPerPublish / FROM.instances) ? FROM.xreadsPerPublish / FROM.instances : 1,
);

/**
 * The model's check on this machine: from one instance's figures, what two instances on the same
 * Redis should cost, against what they did. Redis: a per script, b per XREAD, with the second
 * instance's XREADs added; the instances: the same CPU per delivery, since each delivery is made
 * by one of them.
 */
function check(): string[] {
  if (!Number.isFinite(ONE.a) || !Number.isFinite(TWO.redisUsPerPublish))
    return ['(the run lacks pollcast-redis-1 or pollcast-redis in B)'];
  const redisPredicted = ONE.a * ONE.scriptsPerPublish + ONE.b * 2 * ONE.xreadsPerPublish;
  const totalPredicted = ONE.nodeUsPerDelivery + redisPredicted / TWO.deliveriesPerPublish;
  return [
    markdown(
      ['B, per publish or delivery', 'one instance', 'two: predicted', 'two: measured', 'measured ÷ predicted'],
      [
        [
          'Redis CPU µs/publish',
          f(ONE.redisUsPerPublish, 1),
          f(redisPredicted, 1),
          f(TWO.redisUsPerPublish, 1),
          f(TWO.redisUsPerPublish / redisPredicted, 2),
        ],
        [
          'XREAD/publish',
          f(ONE.xreadsPerPublish, 2),
          f(2 * ONE.xreadsPerPublish, 2),
          f(TWO.xreadsPerPublish, 2),
          f(TWO.xreadsPerPublish / (2 * ONE.xreadsPerPublish), 2),
        ],
        [
          'round trips/answer (history reads)',
          f(ONE.tripsPerAnswer, 3),
          f(ONE.tripsPerAnswer, 3),
          f(TWO.tripsPerAnswer, 3),
          f(TWO.tripsPerAnswer / ONE.tripsPerAnswer, 2),
        ],
        [
          'instances µs/delivery',
          f(ONE.nodeUsPerDelivery, 1),
          f(ONE.nodeUsPerDelivery, 1),
          f(TWO.nodeUsPerDelivery, 1),
          f(TWO.nodeUsPerDelivery / ONE.nodeUsPerDelivery, 2),
        ],
        [
          'all processes µs/delivery',
          f(ONE.usPerDelivery, 1),
          f(totalPredicted, 1),
          f(TWO.usPerDelivery, 1),
          f(TWO.usPerDelivery / totalPredicted, 2),
        ],
      ],
    ),
  ];
}

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
  /** Redis cores with today's reader, and the part its XREADs take. */
  redisCores: number;
  readCores: number;
  /** Redis shards (each one core used to --redis-cores) once a publish wakes only the instances watching its channel. */
  shards: number;
  /** One publish reaching a channel's subscribers on one instance, ms; and the most messages/s one channel can take there. */
  channelFanoutMs: number;
  channelMaxRate: number;
  bottleneck: string;
}

/**
 * Redis cores with today's reader: every publish one script (a), and each instance's `XREAD`
 * re-issued after every reply, costing b plus x for every channel it names; a reader cannot cycle
 * faster than Redis serves its reads. Returns [all, the XREADs' share].
 */
function redisCoresToday(channels: number, instances: number, watched: number): [number, number] {
  const publishes = channels * RATE;
  const cycleUs = REDIS_B + watched * XREAD_US_PER_CHANNEL;
  const cycles = Math.min(publishes * (watched / channels) * XREADS_PER_PUBLISH, 1e6 / Math.max(1, cycleUs));
  const reads = (instances * cycles * cycleUs) / 1e6;
  return [(publishes * REDIS_A) / 1e6 + reads, reads];
}

/** Redis cores once a publish wakes only the instances that watch its channel (Cluster item 2): a + b per watching instance. */
function redisCoresPerPublish(channels: number, instances: number, watched: number): number {
  return (channels * RATE * (REDIS_A + instances * (watched / channels) * REDIS_B)) / 1e6;
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
  const [redisCores, readCores] = redisCoresToday(channels, instances, watched);
  const shards = Math.max(1, Math.ceil(redisCoresPerPublish(channels, instances, watched) / REDIS_CORES));
  const perInstance = Math.max(1, fanout / instances);
  const channelFanoutMs = (perInstance * t.fanoutUs) / 1000;
  const channelMaxRate = (INSTANCE_CORES * 1e6) / (perInstance * usPerDelivery);
  // What adding instances cannot fix comes first; otherwise whatever set the number of instances.
  const byWhat: [string, number][] = [
    ['instance CPU', byCpu],
    ['instance memory', byMemory],
    ['network', byNetwork],
  ];
  const scaledBy = byWhat.filter(([, n]) => Number.isFinite(n)).reduce((x, y) => (y[1] > x[1] ? y : x), ['–', 0])[0];
  const bottleneck =
    redisCores > REDIS_CORES
      ? `one Redis core (${readCores > redisCores / 2 ? 'the XREADs naming every watched channel' : 'publishes'})`
      : RATE > channelMaxRate
        ? "one channel's fan-out on one instance"
        : `none: instances scale out (set by ${scaledBy})`;
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
    readCores,
    shards,
    channelFanoutMs,
    channelMaxRate,
    bottleneck,
  };
}

// ---------------------------------------------------------------------------
// Output

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
      'a: µs/script',
      'b: µs/XREAD',
      'XREAD/publish',
      'round trips/publish',
      'round trips/answer',
      'instances µs/delivery',
      'memory KB/held (C, all processes)',
    ],
    [ONE, TWO].map((r) => [
      `${r.instances} instance${r.instances > 1 ? 's' : ''}`,
      f(r.redisUsPerPublish, 1),
      f(r.a, 1),
      f(r.b, 1),
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
  `Round trips cost their command's time plus an equal share of Redis's CPU outside commands. The model takes ` +
    `a = ${f(REDIS_A, 1)} µs per publish script and b = ${f(REDIS_B, 1)} µs per XREAD reply (from ${FROM === ONE ? 'one instance' : 'two instances'}); each XREAD also costs ` +
    `${f(XREAD_US_PER_CHANNEL, 2)} µs per channel it names (--xread-us-per-channel). Instances on Redis: ` +
    `${f(REDIS_OVERHEAD, 2)}× the in-memory CPU per delivery.`,
);
out.push(
  `Parameters: ${RATE} msg/s per channel; an instance may use ${INSTANCE_CORES} core, ${f(INSTANCE_BYTES / 1048576)} MiB, ` +
    `${f(NIC_BITS / 1e9)} Gbit/s; Redis ${REDIS_CORES} core; a held long poll is answered every ${KEEPALIVE_S.longpoll} s, a stream ` +
    `beats every ${KEEPALIVE_S.stream} s; subscribers spread evenly over instances.\n`,
);
out.push('One instance against two on the same Redis (the model from one instance, checked against two):\n');
out.push(...check(), '');
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
      'one Redis: cores (XREADs)',
      'Redis shards, woken per channel',
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
      `${f(p.redisCores, 2)} (${f(p.readCores, 2)})`,
      String(p.shards),
      `${f(p.channelFanoutMs, 1)}, ${si(p.channelMaxRate)}`,
      p.bottleneck,
    ]),
  ),
);
process.stdout.write(`${out.join('\n')}\n`);
