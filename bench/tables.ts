/**
 * The bench's console tables: one row per result, and results as ratios.
 */
import type { CaseResult, Ratio } from './results.js';

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
    'gen cores',
  ];
  const rows = records.map((r) => [
    r.case,
    r.target,
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
    `${fmt(r.generatorCores, 2)}${r.generatorSaturated ? ' SAT' : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
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
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
