/**
 * The bench's settings from its command line (see bench.ts, or `npm run bench -- --help`), and the
 * cases they make. Bad flags stop the bench with exit code 2.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Scenario } from './results.js';
import { setNodeServerOptions } from './targets.js';
import { isTarget, TARGETS } from './wire.js';
import type { ClientKind } from './wire.js';

export const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    repetitions: { type: 'string' },
    targets: { type: 'string', default: TARGETS.join(',') },
    scenarios: { type: 'string', default: 'A,B,C' },
    'gen-procs': { type: 'string', default: '2' },
    client: { type: 'string', default: 'raw' },
    size: { type: 'string', default: '64' },
    'a-subscribers': { type: 'string' },
    'a-messages': { type: 'string' },
    'a-inflight': { type: 'string', default: '8' },
    'b-subscribers': { type: 'string' },
    'b-rate': { type: 'string', default: '50' },
    'b-seconds': { type: 'string' },
    'c-polls': { type: 'string' },
    'c-rounds': { type: 'string' },
    'poll-interval': { type: 'string', default: '250' },
    png: { type: 'boolean', default: false },
    from: { type: 'string' },
    'server-node-options': { type: 'string', default: '' },
    'server-log': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (flags.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(new URL('./bench.js', import.meta.url)), 'utf8')
      .split('*/')[0]!
      .replace(/^\/\*\*?|^ \* ?/gm, '') + '\n',
  );
  process.exit(0);
}

/** Stops the bench with a usage error (exit 2). */
export function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function whole(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max)
    fail(`--${name} must be a whole number from ${min} to ${max}, got ${raw}`);
  return value;
}

function list(name: string, raw: string, min: number, max: number): number[] {
  return raw.split(',').map((item) => whole(name, item.trim(), min, max));
}

export const QUICK = flags.quick;
export const targets = flags.targets.split(',').map((t) => t.trim());
for (const t of targets) if (!isTarget(t)) fail(`unknown target ${t} (known: ${TARGETS.join(', ')})`);
export const scenarios = flags.scenarios.split(',').map((s) => s.trim().toUpperCase());
for (const s of scenarios) if (!['A', 'B', 'C'].includes(s)) fail(`unknown scenario ${s} (known: A, B, C)`);

export const CLIENT: ClientKind = flags.client === 'node' ? 'node' : 'raw';
if (flags.client !== 'raw' && flags.client !== 'node') fail(`--client must be raw or node, got ${flags.client}`);
/** Times the cases go round the targets, interleaved: every target once, then again (2, or 1 with --quick). */
export const REPETITIONS = whole('repetitions', flags.repetitions ?? (QUICK ? '1' : '2'), 1, 20);
export const GEN_PROCS = whole('gen-procs', flags['gen-procs'], 1, 8);
export const SIZE = whole('size', flags.size, 24, 65_536);
export const A_SUBSCRIBERS = list('a-subscribers', flags['a-subscribers'] ?? (QUICK ? '50,200' : '100,1000'), 1, 20_000);
export const A_MESSAGES = whole('a-messages', flags['a-messages'] ?? (QUICK ? '300' : '2000'), 1, 100_000);
export const A_INFLIGHT = whole('a-inflight', flags['a-inflight'], 1, 256);
export const B_SUBSCRIBERS = whole('b-subscribers', flags['b-subscribers'] ?? (QUICK ? '200' : '1000'), 1, 20_000);
export const B_RATE = whole('b-rate', flags['b-rate'], 1, 10_000);
export const B_SECONDS = whole('b-seconds', flags['b-seconds'] ?? (QUICK ? '2' : '10'), 1, 600);
export const C_POLLS = list('c-polls', flags['c-polls'] ?? (QUICK ? '500,1000' : '5000,10000'), 1, 16_000);
export const C_ROUNDS = whole('c-rounds', flags['c-rounds'] ?? (QUICK ? '2' : '3'), 1, 20);
export const POLL_INTERVAL_MS = whole('poll-interval', flags['poll-interval'], 10, 60_000);

setNodeServerOptions({
  execArgv: flags['server-node-options'].split(' ').filter((arg) => arg !== ''),
  log: flags['server-log'],
});

/** The channel every case publishes to and follows. */
export const CHANNEL = 'bench';

/** One case of a scenario: how many subscribers, how many messages, how long at most. */
export interface Case {
  scenario: Scenario;
  name: string;
  subscribers: number;
  /** Messages planned (sequence numbers 0 .. messages - 1). */
  messages: number;
  deadlineMs: number;
}

/** The cases of this run, in order. */
export const cases: Case[] = [];
if (scenarios.includes('A')) {
  for (const n of A_SUBSCRIBERS)
    cases.push({ scenario: 'A', name: `A ${n} subs`, subscribers: n, messages: A_MESSAGES, deadlineMs: 120_000 });
}
if (scenarios.includes('B')) {
  cases.push({
    scenario: 'B',
    name: `B ${B_SUBSCRIBERS} subs`,
    subscribers: B_SUBSCRIBERS,
    messages: B_RATE * B_SECONDS,
    deadlineMs: B_SECONDS * 1000 + 90_000,
  });
}
if (scenarios.includes('C')) {
  for (const n of C_POLLS) cases.push({ scenario: 'C', name: `C ${n} held`, subscribers: n, messages: C_ROUNDS, deadlineMs: 150_000 });
}
