import t from 'tap';
import { GOALS, judge, ratios } from '../bench/results.js';
import type { CaseResult, Scenario } from '../bench/results.js';
import type { TargetName } from '../bench/wire.js';

/** A result with the figures the goals read; the rest neutral. */
function result(
  target: TargetName,
  scenario: Scenario,
  subscribers: number,
  repetition: number,
  figures: Partial<CaseResult> & { p99?: number },
): CaseResult {
  const { p99 = 10, ...rest } = figures;
  return {
    type: 'result',
    run: 'test',
    target,
    scenario,
    case: `${scenario} ${subscribers}`,
    repetition,
    subscribers,
    parked: subscribers,
    planned: 10,
    published: 10,
    publishErrors: 0,
    publishedPerSecond: 10,
    deliveries: 10 * subscribers,
    deliveriesPerSecond: 1000,
    completeness: { min: 1, median: 1, mean: 1 },
    duplicates: 0,
    outOfOrder: 0,
    missedFlags: 0,
    errors: 0,
    responses: 10 * subscribers,
    latencyMs: { p50: 1, p90: 5, p99, max: p99 },
    latencyCdf: [],
    seconds: 1,
    serverCpuSeconds: 1,
    setupCpuSeconds: 0.1,
    serverCores: 1,
    cpuUsPerDelivery: 10,
    serverRssBytes: 1,
    serverPeakRssBytes: 1,
    idleRssBytes: 1,
    heldRssBytes: 1,
    bytesPerHeldPoll: null,
    fanoutMs: [],
    generatorCpuSeconds: 0,
    generatorCores: 0,
    generatorSaturated: false,
    wireBytesRead: 0,
    wireBytesWritten: 0,
    redis: null,
    version: 'test',
    notes: [],
    ...rest,
  };
}

const goal = (where: string) => GOALS.findIndex((g) => g.where === where);

t.test('judge(): each goal a ratio within a repetition, their median, and yes, no or – (not run)', async (t) => {
  const records = [
    // Two repetitions of B: pollcast at 0.9× then 1.3× the baseline's CPU (median 1.1×: not met); p99 at 0.5× and 0.7× (met).
    result('pollcast', 'B', 100, 1, { cpuUsPerDelivery: 9, p99: 50 }),
    result('baseline', 'B', 100, 1, { cpuUsPerDelivery: 10, p99: 100 }),
    result('pollcast', 'B', 100, 2, { cpuUsPerDelivery: 13, p99: 70 }),
    result('baseline', 'B', 100, 2, { cpuUsPerDelivery: 10, p99: 100 }),
    // A at two sizes: "A largest" is judged at 1000 only.
    result('pollcast', 'A', 100, 1, { cpuUsPerDelivery: 100 }),
    result('nchan-multipart', 'A', 100, 1, { cpuUsPerDelivery: 1 }),
    result('pollcast', 'A', 1000, 1, { cpuUsPerDelivery: 2 }),
    result('nchan-multipart', 'A', 1000, 1, { cpuUsPerDelivery: 4 }),
  ];
  const judged = judge(records);
  t.equal(judged.length, GOALS.length);
  const cpuB = judged[goal('long poll, B: CPU per delivery')]!;
  t.equal(cpuB.case, 'B 100');
  t.equal(cpuB.repetitions, 2);
  t.equal(cpuB.ratio.toFixed(2), '1.10');
  t.equal(cpuB.low.toFixed(2), '0.90');
  t.equal(cpuB.high.toFixed(2), '1.30');
  t.equal(cpuB.met, false);
  t.equal(judged[goal('long poll, B: p99')]!.met, true);
  const cpuA = judged[goal('long poll, A largest: CPU per delivery')]!;
  t.equal(cpuA.case, 'A 1000');
  t.equal(cpuA.ratio, 0.5);
  t.equal(cpuA.met, true);
  t.equal(judged[goal('pollcast-sse, A largest: CPU per delivery')]!.met, undefined, 'pollcast-sse was not run');
  t.equal(judged[goal('Redis, B: p99')]!.met, undefined, 'pollcast-redis was not run');
});

t.test('judge(): memory per added connection is the RSS grown from the smallest C case to the largest, per connection', async (t) => {
  const held = (target: TargetName, subscribers: number, heldRssBytes: number) =>
    result(target, 'C', subscribers, 1, { heldRssBytes, bytesPerHeldPoll: heldRssBytes / subscribers });
  const records = [
    // pollcast: 60 MB at 5000, 100 MB at 10000: 8 KB per added connection (10 KB per held one at 10k).
    held('pollcast', 5000, 60_000_000),
    held('pollcast', 10_000, 100_000_000),
    // nchan: 50 MB and 95 MB: 9 KB per added connection.
    held('nchan-multipart', 5000, 50_000_000),
    held('nchan-multipart', 10_000, 95_000_000),
  ];
  const judged = judge(records);
  const added = judged[goal('pollcast, C: memory per added connection')]!;
  t.equal(added.value, 8000);
  t.equal(added.reference, 9000);
  t.equal(added.met, true);
  t.equal(judged[goal('pollcast, C largest: memory per held connection')]!.met, false, 'whereas per held connection at 10k it is over');
  t.equal(
    judge(records.filter((r) => r.subscribers === 10_000))[goal('pollcast, C: memory per added connection')]!.met,
    undefined,
    'one size: no slope',
  );
});

t.test('ratios(): within a repetition, the median over repetitions', async (t) => {
  const records = [
    result('pollcast', 'B', 100, 1, { deliveriesPerSecond: 100 }),
    result('baseline', 'B', 100, 1, { deliveriesPerSecond: 100 }),
    result('pollcast', 'B', 100, 2, { deliveriesPerSecond: 300 }),
    result('baseline', 'B', 100, 2, { deliveriesPerSecond: 100 }),
  ];
  const [ratio, ...rest] = ratios(records);
  t.equal(rest.length, 0, 'one ratio per case, target and reference');
  t.equal(ratio!.deliveriesPerSecond, 2, 'the median of 1× and 3×, not 300 ÷ 100 of one pairing');
});
