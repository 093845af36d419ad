#!/usr/bin/env node
/**
 * The process entry: flags and environment → options → listen → signals and
 * IPC. The only file that calls `process.exit`.
 */
import { parseArgs } from 'node:util';
import type { PollcastOptions } from './options.js';
import { createPollcast } from './server.js';
import type { PollcastServer } from './server.js';

const USAGE = `usage: pollcast [options]

  --port N             TCP port, 0 for any free one    (PORT, default 8080)
  --host H             interface to bind                (HOST, default 127.0.0.1)
  --history N          messages kept per channel        (POLLCAST_HISTORY, default 1000)
  --poll-timeout MS    idle long poll ends with 204     (POLLCAST_POLL_TIMEOUT, default 25000)
  --max-body BYTES     largest message accepted         (POLLCAST_MAX_BODY, default 65536)
  --public DIR         folder of the page               (POLLCAST_PUBLIC, default the package's public/)
  --shutdown-grace MS  time to finish requests on stop  (POLLCAST_SHUTDOWN_GRACE, default 5000)
  -h, --help           this text
`;

/** Each flag, the environment variable behind it, and the option it sets. */
const SETTINGS = [
  ['port', 'PORT', 'port'],
  ['host', 'HOST', 'host'],
  ['history', 'POLLCAST_HISTORY', 'historyLimit'],
  ['poll-timeout', 'POLLCAST_POLL_TIMEOUT', 'pollTimeoutMs'],
  ['max-body', 'POLLCAST_MAX_BODY', 'maxBodyBytes'],
  ['public', 'POLLCAST_PUBLIC', 'publicDir'],
  ['shutdown-grace', 'POLLCAST_SHUTDOWN_GRACE', 'shutdownGraceMs'],
] as const satisfies readonly (readonly [string, string, keyof PollcastOptions])[];

const TEXT_OPTIONS = new Set<keyof PollcastOptions>(['host', 'publicDir']);

/** How long after a stop request the process may take before it is ended regardless. */
const EXIT_WATCHDOG_MS = 1_000;

function readOptions(argv: string[], env: NodeJS.ProcessEnv): Partial<PollcastOptions> | undefined {
  const flags = Object.fromEntries(SETTINGS.map(([flag]) => [flag, { type: 'string' as const }]));
  const { values } = parseArgs({ args: argv, options: { ...flags, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) return undefined;
  const given = values as Record<string, string | boolean | undefined>;
  const options: Record<string, string | number> = {};
  for (const [flag, variable, key] of SETTINGS) {
    const raw = (given[flag] as string | undefined) ?? env[variable];
    if (raw === undefined || raw === '') continue;
    options[key] = TEXT_OPTIONS.has(key) ? raw : toNumber(flag, raw);
  }
  return options as Partial<PollcastOptions>;
}

function toNumber(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw)) throw new RangeError(`--${flag} must be a whole number, got "${raw}"`);
  return Number(raw);
}

function displayHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Stops on the first of IPC `'shutdown'`, SIGINT, SIGTERM; exits 0 once drained. */
function stopOnRequest(pollcast: PollcastServer): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), pollcast.options.shutdownGraceMs + EXIT_WATCHDOG_MS).unref();
    void pollcast.close().then(() => {
      if (process.connected) process.disconnect();
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('message', (message) => {
    if (message === 'shutdown') stop();
  });
  // A parent that dies without saying goodbye must not leave us running.
  process.on('disconnect', stop);
}

/** Reads the configuration; a mistake in it is a usage error (exit 2). */
function configure(): PollcastServer | undefined {
  try {
    const options = readOptions(process.argv.slice(2), process.env);
    return options && createPollcast(options);
  } catch (error) {
    process.stderr.write(`pollcast: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const pollcast = configure();
  if (!pollcast) {
    process.stdout.write(USAGE);
    return;
  }
  let port: number;
  try {
    ({ port } = await pollcast.listen());
  } catch (error) {
    process.stderr.write(`pollcast: ${(error as Error).message}\n`);
    process.exit(1);
  }
  stopOnRequest(pollcast);
  process.stdout.write(`pollcast listening on http://${displayHost(pollcast.options.host)}:${port}/\n`);
  process.send?.({ type: 'ready', port });
}

void main();
