/**
 * The bench's console tables: one row per result, and results as ratios.
 */
import { bytesPerDelivery, redisBusyCpu } from './results.js';
import type { CaseResult, Figure, GoalResult, Ratio } from './results.js';

/** A number for a table: grouped digits, `–` when not finite. */
export const fmt = (value: number, digits = 0): string =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';
/** A fraction as a percentage. */
export const pct = (value: number): string =>
  Number.isFinite(value) ? `${(value * 100).toFixed(value >= 0.9995 || value === 0 ? 0 : 1)}%` : '–';
const mb = (bytes: number): string => fmt(bytes / 1024 / 1024, 1);

/** One row per result: the numbers of the console summary. */
export function table(records: CaseResult[]): string {
  const head = [
    'case',
    'target',
    'rep',
    'pub/s',
    'deliv/s',
    'compl min/med',
    'dup',
    'ooo',
    'p50 ms',
    'p90',
    'p99',
    'max',
    'srv CPU s',
    'µs/deliv',
    'srv cores',
    'RSS MB',
    'KB/poll',
    'fan-out ms',
    'B/deliv',
    'gen cores',
  ];
  const rows = records.map((r) => [
    r.case,
    r.target,
    String(r.repetition),
    r.scenario === 'C' ? '' : fmt(r.publishedPerSecond),
    r.scenario === 'C' ? '' : fmt(r.deliveriesPerSecond),
    `${pct(r.completeness.min)}/${pct(r.completeness.median)}`,
    String(r.duplicates),
    String(r.outOfOrder),
    fmt(r.latencyMs.p50, 1),
    fmt(r.latencyMs.p90, 1),
    fmt(r.latencyMs.p99, 1),
    fmt(r.latencyMs.max, 1),
    fmt(r.serverCpuSeconds, 2),
    fmt(r.cpuUsPerDelivery, 1),
    r.scenario === 'C' ? '' : fmt(r.serverCores, 2),
    mb(r.serverPeakRssBytes),
    r.bytesPerHeldPoll === null ? '' : fmt(r.bytesPerHeldPoll / 1024, 1),
    r.fanoutMs.map((ms) => fmt(ms)).join(' '),
    fmt(bytesPerDelivery(r)),
    `${fmt(r.generatorCores, 2)}${r.generatorSaturated ? ' SAT' : ''}`,
  ]);
  return columns(head, rows, 2);
}

/** Head, a rule, and rows, the first `left` columns aligned left, the rest right. */
function columns(head: string[], rows: string[][], left: number): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** One row per ratio. */
export function ratioTable(list: Ratio[]): string {
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
  const head = ['case', 'target', 'vs', 'deliv/s', 'compl med', 'p99', 'µs/deliv', 'KB/poll', 'fan-out'];
  const rows = list.map((r) => [
    r.case,
    r.target,
    r.against,
    x(r.deliveriesPerSecond),
    x(r.completenessMedian),
    x(r.p99),
    x(r.cpuUsPerDelivery),
    x(r.bytesPerHeldPoll),
    x(r.fanoutMs),
  ]);
  return columns(head, rows, 3);
}

/** A goal's figure with its unit. */
export function figure(value: number, which: Figure): string {
  if (which === 'cpuUsPerDelivery') return `${fmt(value, 1)} µs`;
  if (which === 'p99') return `${fmt(value, 1)} ms`;
  if (which === 'bytesPerHeldPoll' || which === 'marginalBytesPerHeldPoll') return `${fmt(value / 1024, 1)} KB`;
  return `${fmt(value)}/s`;
}

/** "yes", "no", or "–" when the reference (or the target) was not run. */
export const metText = (met: boolean | undefined): string => (met === undefined ? '–' : met ? 'yes' : 'no');

/** The target table: each goal as a ratio against its reference in this run, and whether it was met. */
export function goalTable(results: GoalResult[]): string {
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
  const head = ['where', 'case', 'value', 'reference', 'vs', 'ratio (median)', 'spread', 'target', 'target met'];
  const rows = results.map((g) => [
    g.goal.where,
    g.case,
    figure(g.value, g.goal.figure),
    figure(g.reference, g.goal.figure),
    g.goal.against,
    x(g.ratio),
    g.repetitions > 1 ? `${x(g.low)}–${x(g.high)} (${g.repetitions})` : g.repetitions === 1 ? 'one run' : '–',
    `${g.goal.sense} ${g.goal.limit.toFixed(1)}×`,
    metText(g.met),
  ]);
  return columns(head, rows, 2);
}

/**
 * What Redis itself did, for the targets on Redis: its CPU (µs/publish: less its idle rate over the
 * case; in commands: the part spent executing pollcast's commands) and the commands pollcast sent,
 * per publish and per answer; node µs/deliv: the instances' CPU alone per delivery.
 */
export function redisTable(records: CaseResult[]): string {
  const head = [
    'case',
    'target',
    'rep',
    'publishes',
    'answers',
    'redis CPU s',
    'idle cores',
    'µs/publish',
    'in commands',
    'trips/publish',
    'xread/publish',
    'trips/answer',
    'node µs/deliv',
  ];
  const rows = records
    .filter((r) => r.redis !== null)
    .map((r) => {
      const redis = r.redis!;
      return [
        r.case,
        r.target,
        String(r.repetition),
        fmt(r.published),
        fmt(r.responses),
        fmt(redis.cpuSeconds, 3),
        fmt(redis.idleCores, 3),
        fmt((redisBusyCpu(redis) * 1e6) / r.published, 1),
        fmt((redis.commandSeconds * 1e6) / r.published, 1),
        fmt(redis.roundTrips / r.published, 2),
        fmt(redis.xreads / r.published, 2),
        fmt(redis.roundTrips / r.responses, 3),
        fmt(((r.serverCpuSeconds - redis.cpuSeconds) * 1e6) / r.deliveries, 1),
      ];
    });
  return columns(head, rows, 2);
}
