/**
 * What a bench run records, shared by the run (bench.ts), its text tables and the HTML report:
 * the run's context, one result per (target, case), and results as ratios against a reference.
 */
import { ADAPTERS } from './wire.js';
import type { ClientKind, TargetName } from './wire.js';

/** A fan-out throughput, B paced latency, C idle capacity (see bench.ts). */
export type Scenario = 'A' | 'B' | 'C';

/** The record of one (target, case). */
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

/** Every result against each reference target of the same case: the baseline, nchan-multipart, and pollcast's long poll for its other transports. */
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
  return out;
}

/** The median of sorted numbers; NaN for none. */
export function median(sorted: number[]): number {
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
