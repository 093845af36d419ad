/**
 * The benchmark: pollcast against the classic demo (the baseline) and nchan, over real HTTP on
 * 127.0.0.1. Each case forks a fresh server the way its users do, parks N long polls (in
 * subscriber processes of its own), publishes, and measures what arrived, how fast, and what it
 * cost the server (CPU from /proc/<pid>/stat, memory from /proc/<pid>/status).
 *
 *   npm run bench [-- --quick] [-- --targets pollcast,nchan-multipart --scenarios A,C --png]
 *
 * A  fan-out throughput: 100 and 1000 subscribers, 2000 messages, 8 publishes in flight.
 * B  paced latency: 1000 subscribers, 50 messages/s for 10 s.
 * C  idle capacity: 5000 and 10000 held polls: memory per poll, time for one message to reach all.
 *
 * Targets: pollcast (JSON long poll), the baseline, nchan and nchan-multipart, and pollcast again
 * over its other transports: pollcast-sse (/events), pollcast-ws (/ws), pollcast-poll (/messages
 * every --poll-interval ms), and pollcast-jwt (the long poll with signed tokens on), compared with
 * pollcast's long poll in a table of their own.
 *
 * Every case goes round the targets --repetitions times (2; 1 with --quick), interleaved. Prints
 * the results, ratios, and issue 13's targets table with a "target met" column.
 *
 * Writes bench/results/<timestamp>.jsonl and bench/results/report.html; prints a table.
 * Every loop is bounded in count and time; all traffic stays on 127.0.0.0/8.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport } from './report.js';
import { judge, load, ratios } from './results.js';
import type { CaseResult, RunInfo } from './results.js';
import { live, liveGenerators, runCase } from './run-case.js';
import { sourceAddresses } from './server-probe.js';
import { CLIENT, cases, fail, flags, GEN_PROCS, QUICK, REPETITIONS, SIZE, targets } from './settings.js';
import { fmt, goalTable, pct, ratioTable, redisTable, table } from './tables.js';
import { nchanMissing, POLLCAST_ARGS, redisMissing } from './targets.js';
import { isTarget, TARGETS } from './wire.js';
import type { TargetName } from './wire.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results');

let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  process.stderr.write('\nbench: interrupted, stopping what it started\n');
  void Promise.all([...liveGenerators].map((g) => g.kill()))
    .then(() => Promise.all([...live].map((s) => s.stop())))
    .then(() => process.exit(130));
});

/** Prints the tables of a run's results and writes its report. */
async function summarize(runInfo: RunInfo, records: CaseResult[]): Promise<void> {
  const caseOrder = [...new Set(records.map((r) => r.case))];
  const byTarget = [...records].sort(
    (a, b) => caseOrder.indexOf(a.case) - caseOrder.indexOf(b.case) || order(a) - order(b) || a.repetition - b.repetition,
  );
  const ratioList = ratios(records);
  process.stdout.write(`\n${table(byTarget)}\n`);
  const ours = ratioList.filter((r) => r.target === 'pollcast');
  if (ours.length > 0)
    process.stdout.write(
      `\npollcast as ratios (pollcast ÷ reference, same run, median over repetitions; >1 means more of it; all targets in the report):\n${ratioTable(ours)}\n`,
    );
  const transports = ratioList.filter((r) => r.against === 'pollcast');
  if (transports.length > 0) process.stdout.write(`\npollcast's other transports ÷ its long poll (same run):\n${ratioTable(transports)}\n`);
  if (records.some((r) => r.redis !== null))
    process.stdout.write(
      `\nRedis itself (INFO before and after each case; trips: scripts, xread, client commands):\n${redisTable(byTarget)}\n`,
    );
  process.stdout.write(
    '\ndeliv/s: messages received by all subscribers together per second, from the first publish to the last delivery.\n',
  );
  process.stdout.write(
    'µs/deliv: server CPU (user+sys, /proc) per delivered message; srv cores: that CPU over the run. RSS: server peak.\n',
  );
  process.stdout.write(
    "KB/poll: (RSS with N held − RSS idle)/N. fan-out: one publish until all N held polls have it, per round. ooo: against the server's own order.\n",
  );
  process.stdout.write(
    'B/deliv: bytes the subscribers read (TCP payload) per delivered message. rep: repetition (the cases go round the targets in turn).\n',
  );
  process.stdout.write('gen cores: CPU of the load generator (publisher + subscriber processes) over the run; SAT = ≥ 0.9 core.\n');
  const goals = judge(records);
  process.stdout.write(
    `\nIssue 13's targets (ratio of the medians' run-by-run ratios; spread: lowest–highest over repetitions; – : a target or its reference was not run):\n${goalTable(goals)}\n`,
  );
  const report = join(RESULTS, 'report.html');
  writeReport(report, runInfo, byTarget, ratioList, goals);
  process.stdout.write(`\n${report}\n`);
  if (flags.png) {
    const { renderPng } = await import('./render.js');
    const png = join(RESULTS, 'report.png');
    await renderPng(report, png);
    process.stdout.write(`${png}\n`);
  }
}

/** A result's place in the list of targets. */
const order = (r: CaseResult): number => (TARGETS as readonly string[]).indexOf(r.target);

if (flags.from !== undefined) {
  // Report only: rebuild the tables and report.html from the JSON lines of an earlier run.
  const { info: runInfo, records: old } = load(flags.from);
  if (!runInfo) fail(`${flags.from} holds no run record`);
  await summarize(runInfo, old);
  process.exit(0);
}

const run = new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync(RESULTS, { recursive: true });
const jsonl = join(RESULTS, `${run}.jsonl`);
const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
const info: RunInfo = {
  type: 'run',
  run,
  node: process.version,
  cpuModel,
  cores: cpus().length,
  loadAverage: loadavg(),
  argv: process.argv.slice(2),
  quick: QUICK,
  pollcastArgs: POLLCAST_ARGS,
  generatorProcesses: GEN_PROCS,
  messageBytes: SIZE,
  client: CLIENT,
  repetitions: REPETITIONS,
};
appendFileSync(jsonl, JSON.stringify(info) + '\n');

const missing = nchanMissing();
const chosen = targets.filter((t): t is TargetName => {
  if ((t === 'nchan' || t === 'nchan-multipart') && missing) {
    process.stderr.write(`bench: skipping ${t}: ${missing}\n`);
    return false;
  }
  if (t.startsWith('pollcast-redis') && redisMissing()) {
    process.stderr.write(`bench: skipping ${t}: ${redisMissing()}\n`);
    return false;
  }
  return isTarget(t);
});

process.stdout.write(
  `pollcast bench ${run}: node ${process.version}, ${info.cores} cores (${cpuModel}), load ${info.loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`,
);
process.stdout.write(`targets ${chosen.join(', ')}; cases ${cases.map((c) => c.name).join(', ')}${QUICK ? ' (quick)' : ''}\n`);
process.stdout.write('Numbers from a shared 2-core machine are noisy: compare targets within one run, not across runs.\n\n');

const addresses = await sourceAddresses();
const records: CaseResult[] = [];
const began = Date.now();
// Interleaved: within a case, every target once, then every target again, so drift hits them all alike.
for (const spec of cases) {
  for (let repetition = 1; repetition <= REPETITIONS; repetition++) {
    for (const target of chosen) {
      if (interrupted) break;
      const t = Date.now();
      process.stdout.write(`${spec.name.padEnd(14)} ${target.padEnd(16)} ${REPETITIONS > 1 ? `#${repetition} ` : ''}`);
      try {
        const record = await runCase(target, spec, addresses, run, repetition);
        records.push(record);
        appendFileSync(jsonl, JSON.stringify(record) + '\n');
        process.stdout.write(
          `${fmt(record.deliveriesPerSecond).padStart(9)} deliv/s  compl ${pct(record.completeness.median).padStart(5)}  ` +
            `p99 ${fmt(record.latencyMs.p99, 1).padStart(7)} ms  ${fmt(record.cpuUsPerDelivery, 1).padStart(6)} µs/deliv  ` +
            `(${((Date.now() - t) / 1000).toFixed(1)} s)${record.notes.length ? '  ! ' + record.notes.join('; ') : ''}\n`,
        );
      } catch (error) {
        process.stdout.write(`FAILED: ${(error as Error).message}\n`);
        appendFileSync(
          jsonl,
          JSON.stringify({ type: 'error', run, target, case: spec.name, repetition, message: (error as Error).message }) + '\n',
        );
      }
    }
  }
}

await summarize(info, records);
process.stdout.write(`${jsonl}\n(${((Date.now() - began) / 1000).toFixed(0)} s)\n`);
