/**
 * A Prometheus histogram for the hot path, kept in plain arrays: one label,
 * its series made up front. prom-client's own `Histogram.observe()` hashes
 * its labels and validates them on every call; a fan-out to thousands of
 * connections observes once per message and connection, and that alone was
 * a tenth of a streaming server's CPU. The exposition is prom-client's: the
 * registry formats what `get()` returns like any histogram's values.
 */
import type { Metric, MetricObjectWithValues, MetricType, MetricValueWithName } from 'prom-client';

interface Series {
  /** Observations per bucket (not cumulative); the last counts those above every bound. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class TallyHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  // prom-client declares its metric types as an enum it does not export at run time; the registry compares the string.
  readonly type = 'histogram' as unknown as MetricType;
  readonly aggregator = 'sum';
  readonly #label: string;
  readonly #bounds: readonly number[];
  readonly #series = new Map<L, Series>();

  constructor(options: { name: string; help: string; label: string; values: readonly L[]; buckets: readonly number[] }) {
    this.name = options.name;
    this.help = options.help;
    this.#label = options.label;
    this.#bounds = options.buckets;
    for (const value of options.values) this.#series.set(value, { counts: new Float64Array(options.buckets.length + 1), sum: 0, count: 0 });
  }

  /** One observation of `value` under the label value `of`. */
  observe(of: L, value: number): void {
    const series = this.#series.get(of)!;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  /** The series as prom-client's registry formats a histogram: cumulative buckets, `+Inf`, sum and count. */
  get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    for (const [of, series] of this.#series) {
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, [this.#label]: of }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', [this.#label]: of }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels: { [this.#label]: of }, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: { [this.#label]: of }, value: series.count });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
      collect: () => undefined,
    });
  }

  reset(): void {
    for (const series of this.#series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  /** For `Registry.registerMetric()`, typed for prom-client's own four classes; the registry reads only `name`, `get()` and `reset()`. */
  asMetric(): Metric<string> {
    return this as unknown as Metric<string>;
  }
}
