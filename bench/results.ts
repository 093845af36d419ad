/**
 * What a bench run records, shared by the run (bench.ts), its text tables and the HTML report:
 * the run's context, one result per (target, case), and results as ratios against a reference.
 */
import { readFileSync } from 'node:fs';
import { ADAPTERS } from './wire.js';
import type { ClientKind, TargetName } from './wire.js';

/** A fan-out throughput, B paced latency, C idle capacity (see bench.ts). */
export type Scenario = 'A' | 'B' | 'C';

/**
 * What Redis itself did during a case, from its `INFO` before and after: CPU of the redis-server
 * (used_cpu_user + used_cpu_sys) and the calls of each command (`INFO commandstats`; commands a
 * script runs are counted too, under their own names; the bench's own `INFO` is left out).
 */
export interface RedisUsage {
  cpuSeconds: number;
  /** Wall time between the readings, and Redis's CPU rate (cores) measured just before while the subscribers were held and nothing was published. */
  seconds: number;
  idleCores: number;
  /** Time Redis spent executing the commands pollcast sent (`usec` of commandstats; the rest of its CPU is I/O and its event loop). */
  commandSeconds: number;
  calls: Record<string, number>;
  /** µs spent in each command (a script's includes the commands it runs). */
  usec: Record<string, number>;
  /** Commands sent by pollcast's connections: scripts (`evalsha`, `eval`), `xread`, `client|*`. */
  roundTrips: number;
  xreads: number;
}

/** The record of one (target, case). */
export interface CaseResult {
  type: 'result';
  run: string;
  target: TargetName;
  scenario: Scenario;
  case: string;
  /** 1, 2, …: the cases of a run go round the targets this many times, interleaved. */
  repetition: number;
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
  /** Server CPU from its start until every subscriber was held: connecting, first answers, parking. */
  setupCpuSeconds: number;
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
  /** Bytes the subscriber processes' sockets read and wrote while measuring (TCP payload). */
  wireBytesRead: number;
  wireBytesWritten: number;
  /** For the targets on Redis. */
  redis: RedisUsage | null;
  version: string;
  notes: string[];
}

/** The run's context: machine, load, settings. */
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
  repetitions: number;
}

/** One result against a reference's, field by field (result ÷ reference). */
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

/**
 * Every result against each reference target of the same case and repetition — the baseline,
 * nchan-multipart, and pollcast's long poll for its other transports — and, over repetitions, the
 * median of each ratio.
 */
export function ratios(records: CaseResult[]): Ratio[] {
  const pairs = new Map<string, Ratio[]>();
  const mid = (xs: number[]) => median([...xs].sort((a, b) => a - b));
  for (const against of ['baseline', 'nchan-multipart', 'pollcast'] as const) {
    for (const r of records) {
      const ref = records.find((x) => x.case === r.case && x.repetition === r.repetition && x.target === against);
      if (!ref || ref === r) continue;
      // The transports (and the long poll with signed tokens on) are compared with pollcast's long poll, and only they.
      if (against === 'pollcast' && ADAPTERS[r.target].transport === 'longpoll' && r.target !== 'pollcast-jwt') continue;
      const key = `${r.case}\0${r.target}\0${against}`;
      if (!pairs.has(key)) pairs.set(key, []);
      pairs.get(key)!.push({
        case: r.case,
        target: r.target,
        against,
        deliveriesPerSecond: r.scenario === 'C' ? NaN : r.deliveriesPerSecond / ref.deliveriesPerSecond,
        completenessMedian: r.completeness.median / ref.completeness.median,
        p99: r.latencyMs.p99 / ref.latencyMs.p99,
        cpuUsPerDelivery: r.cpuUsPerDelivery / ref.cpuUsPerDelivery,
        bytesPerHeldPoll: r.bytesPerHeldPoll !== null && ref.bytesPerHeldPoll ? r.bytesPerHeldPoll / ref.bytesPerHeldPoll : NaN,
        fanoutMs: r.fanoutMs.length && ref.fanoutMs.length ? mid(r.fanoutMs) / mid(ref.fanoutMs) : NaN,
      });
    }
  }
  return [...pairs.values()].map((list) => {
    const field = (pick: (x: Ratio) => number) => mid(list.map(pick).filter(Number.isFinite));
    return {
      ...list[0]!,
      deliveriesPerSecond: field((x) => x.deliveriesPerSecond),
      completenessMedian: field((x) => x.completenessMedian),
      p99: field((x) => x.p99),
      cpuUsPerDelivery: field((x) => x.cpuUsPerDelivery),
      bytesPerHeldPoll: field((x) => x.bytesPerHeldPoll),
      fanoutMs: field((x) => x.fanoutMs),
    };
  });
}

/** The run record and results of a JSON-lines file; records of earlier bench versions get the fields they lacked. */
export function load(file: string): { info: RunInfo | undefined; records: CaseResult[] } {
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string });
  const found = lines.find((l): l is RunInfo => l.type === 'run');
  const info = found && { ...found, repetitions: found.repetitions ?? 1 };
  const missing = { repetition: 1, setupCpuSeconds: NaN, wireBytesRead: NaN, wireBytesWritten: NaN, redis: null };
  const records = lines
    .filter((l): l is CaseResult => l.type === 'result')
    .map((r): CaseResult => ({ ...missing, ...r, redis: r.redis && Object.assign({ commandSeconds: NaN, usec: {} }, r.redis) }));
  return { info, records };
}

/** Redis's CPU for the case's work: its CPU less what it would have spent idle over that time (never below 0). */
export const redisBusyCpu = (usage: RedisUsage): number => Math.max(0, usage.cpuSeconds - usage.idleCores * usage.seconds);

/** Bytes the subscribers read per message delivered (HTTP heads, framing, re-polls' answers included). */
export const bytesPerDelivery = (r: CaseResult): number => (r.deliveries > 0 ? r.wireBytesRead / r.deliveries : NaN);

/** The median of sorted numbers; NaN for none. */
export function median(sorted: number[]): number {
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The figure of a result that a goal judges. `marginalBytesPerHeldPoll` is what one more held
 * connection adds: the growth of the server's RSS from the smallest C case to the largest, per
 * connection added, in the same repetition. It leaves out what a server holds whatever the count
 * (V8's young generation grows to 16–32 MB while thousands connect at once, ~2 KB a poll at 10k),
 * which is the figure a capacity model of 100k connections needs.
 */
export type Figure = 'cpuUsPerDelivery' | 'deliveriesPerSecond' | 'p99' | 'bytesPerHeldPoll' | 'marginalBytesPerHeldPoll';

/** Which case of a scenario a goal is judged in: the run's smallest or largest of that scenario. */
export type CasePick = 'smallest' | 'largest';

/** One row of the target table: `target`'s figure ÷ `against`'s, in one case, judged against `limit`. */
export interface Goal {
  where: string;
  target: TargetName;
  against: TargetName;
  scenario: Scenario;
  pick: CasePick;
  figure: Figure;
  /** The ratio must be at most `limit` ('≤'), or at least ('≥'). */
  sense: '≤' | '≥';
  limit: number;
}

type GoalRow = [
  where: string,
  target: TargetName,
  against: TargetName,
  scenario: Scenario,
  pick: CasePick,
  figure: Figure,
  sense: '≤' | '≥',
  limit: number,
];

/** The targets of issue 13, each a ratio against a reference measured in the same run. */
export const GOALS: readonly Goal[] = (
  [
    ['pollcast-sse, A largest: CPU per delivery', 'pollcast-sse', 'nchan-multipart', 'A', 'largest', 'cpuUsPerDelivery', '≤', 1],
    ['pollcast-sse, A largest: deliveries/s', 'pollcast-sse', 'nchan-multipart', 'A', 'largest', 'deliveriesPerSecond', '≥', 1],
    ['pollcast-ws, A largest: CPU per delivery', 'pollcast-ws', 'nchan-multipart', 'A', 'largest', 'cpuUsPerDelivery', '≤', 1],
    ['pollcast-ws, A largest: deliveries/s', 'pollcast-ws', 'nchan-multipart', 'A', 'largest', 'deliveriesPerSecond', '≥', 1],
    ['long poll, A largest: CPU per delivery', 'pollcast', 'nchan-multipart', 'A', 'largest', 'cpuUsPerDelivery', '≤', 1],
    ['long poll, B: CPU per delivery', 'pollcast', 'baseline', 'B', 'largest', 'cpuUsPerDelivery', '≤', 1],
    ['long poll, B: p99', 'pollcast', 'baseline', 'B', 'largest', 'p99', '≤', 1],
    // A held connection costs nchan the same with or without multipart answers (10.0 and 10.1 KB in the
    // last run with both): the memory rows take nchan-multipart, the reference every other row runs anyway.
    ['pollcast, C largest: memory per held connection', 'pollcast', 'nchan-multipart', 'C', 'largest', 'bytesPerHeldPoll', '≤', 1],
    ['pollcast-sse, C largest: memory per held connection', 'pollcast-sse', 'nchan-multipart', 'C', 'largest', 'bytesPerHeldPoll', '≤', 1],
    ['pollcast-ws, C largest: memory per held connection', 'pollcast-ws', 'nchan-multipart', 'C', 'largest', 'bytesPerHeldPoll', '≤', 1],
    ['pollcast, C: memory per added connection', 'pollcast', 'nchan-multipart', 'C', 'largest', 'marginalBytesPerHeldPoll', '≤', 1],
    ['pollcast-sse, C: memory per added connection', 'pollcast-sse', 'nchan-multipart', 'C', 'largest', 'marginalBytesPerHeldPoll', '≤', 1],
    ['pollcast-ws, C: memory per added connection', 'pollcast-ws', 'nchan-multipart', 'C', 'largest', 'marginalBytesPerHeldPoll', '≤', 1],
    ['Redis, A smallest: CPU per delivery', 'pollcast-redis', 'pollcast', 'A', 'smallest', 'cpuUsPerDelivery', '≤', 1.3],
    ['Redis, B: p99', 'pollcast-redis', 'pollcast', 'B', 'largest', 'p99', '≤', 1.1],
  ] satisfies GoalRow[]
).map(([where, target, against, scenario, pick, figure, sense, limit]) => ({
  where,
  target,
  against,
  scenario,
  pick,
  figure,
  sense,
  limit,
}));

/** A goal as measured: medians over the repetitions, the spread of the ratio, and whether it was met (undefined: not run). */
export interface GoalResult {
  goal: Goal;
  case: string;
  value: number;
  reference: number;
  ratio: number;
  low: number;
  high: number;
  repetitions: number;
  met: boolean | undefined;
}

/** Every goal judged on this run's records. */
export function judge(records: CaseResult[]): GoalResult[] {
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  return GOALS.map((goal) => {
    const sizes = sorted([...new Set(records.filter((r) => r.scenario === goal.scenario).map((r) => r.subscribers))]);
    const size = goal.pick === 'largest' ? sizes[sizes.length - 1] : sizes[0];
    const figureOf = (r: CaseResult, figure: Figure): number => {
      if (figure === 'p99') return r.latencyMs.p99;
      if (figure === 'bytesPerHeldPoll') return r.bytesPerHeldPoll ?? NaN;
      if (figure !== 'marginalBytesPerHeldPoll') return r[figure];
      const smaller = records.find(
        (x) => x.scenario === r.scenario && x.subscribers === sizes[0] && x.target === r.target && x.repetition === r.repetition,
      );
      if (!smaller || smaller.subscribers === r.subscribers || r.bytesPerHeldPoll === null) return NaN;
      return (r.heldRssBytes - smaller.heldRssBytes) / (r.subscribers - smaller.subscribers);
    };
    const inCase = records.filter((r) => r.scenario === goal.scenario && r.subscribers === size);
    const mine = inCase.filter((r) => r.target === goal.target);
    const ratios: number[] = [];
    for (const r of mine) {
      const ref = inCase.find((x) => x.target === goal.against && x.repetition === r.repetition);
      if (ref) ratios.push(figureOf(r, goal.figure) / figureOf(ref, goal.figure));
    }
    const finite = sorted(ratios.filter(Number.isFinite));
    const ratio = median(finite);
    return {
      goal,
      case: inCase[0]?.case ?? '',
      value: median(sorted(mine.map((r) => figureOf(r, goal.figure)))),
      reference: median(sorted(inCase.filter((r) => r.target === goal.against).map((r) => figureOf(r, goal.figure)))),
      ratio,
      low: finite[0] ?? NaN,
      high: finite[finite.length - 1] ?? NaN,
      repetitions: finite.length,
      met: Number.isFinite(ratio) ? (goal.sense === '≤' ? ratio <= goal.limit : ratio >= goal.limit) : undefined,
    };
  });
}
