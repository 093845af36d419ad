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
       pollcast chat [URL] [options]   (a terminal client: pollcast chat --help)

  --port N                   TCP port, 0 for any free one         (PORT, default 8080)
  --host H                   interface to bind                     (HOST, default 127.0.0.1)
  --history N                messages kept per channel, max 100000 (POLLCAST_HISTORY, default 1000)
  --history-bytes BYTES      memory for history in all channels    (POLLCAST_HISTORY_BYTES, default 67108864)
  --max-channels N           channels kept at once                 (POLLCAST_MAX_CHANNELS, default 10000)
  --max-channels-per-connection N  channels one connection may follow (POLLCAST_MAX_CHANNELS_PER_CONNECTION, default 64)
  --poll-timeout MS          idle long poll ends with 204          (POLLCAST_POLL_TIMEOUT, default 25000)
  --max-waiting N            polls held at once                    (POLLCAST_MAX_WAITING, default 10000)
  --max-waiting-per-client N polls held at once per client address (POLLCAST_MAX_WAITING_PER_CLIENT, default 100)
  --max-body BYTES           largest message accepted              (POLLCAST_MAX_BODY, default 65536)
  --heartbeat MS             comment on event streams this often   (POLLCAST_HEARTBEAT, default 15000)
  --stream-buffer BYTES      unsent bytes before a stream is cut   (POLLCAST_STREAM_BUFFER, default 1048576)
  --publish-rate N           publishes per second per client, 0=off (POLLCAST_PUBLISH_RATE, default 20)
  --publish-burst N          publishes in a burst per client       (POLLCAST_PUBLISH_BURST, default 40)
  --headers-timeout MS       time to send the request headers      (POLLCAST_HEADERS_TIMEOUT, default 15000)
  --request-timeout MS       time to send the whole request        (POLLCAST_REQUEST_TIMEOUT, default 30000)
  --publish-token T          bearer token required to publish      (POLLCAST_PUBLISH_TOKEN, default none)
  --subscribe-token T        bearer token required to subscribe    (POLLCAST_SUBSCRIBE_TOKEN, default none)
  --cors-origins LIST        origins allowed cross-site, comma-separated, or *  (POLLCAST_CORS_ORIGINS, default none)
  --public DIR               folder of the page                    (POLLCAST_PUBLIC, default the package's public/)
  --shutdown-grace MS        time to finish requests on stop       (POLLCAST_SHUTDOWN_GRACE, default 5000)
  --redis URL                keep channels in Redis Streams, shared by every instance (REDIS_URL, default none: in memory)
  -h, --help                 this text
`;

/** Each flag, the environment variable behind it, and the option it sets. */
const SETTINGS = [
  ['port', 'PORT', 'port'],
  ['host', 'HOST', 'host'],
  ['history', 'POLLCAST_HISTORY', 'historyLimit'],
  ['history-bytes', 'POLLCAST_HISTORY_BYTES', 'historyBytes'],
  ['max-channels', 'POLLCAST_MAX_CHANNELS', 'maxChannels'],
  ['max-channels-per-connection', 'POLLCAST_MAX_CHANNELS_PER_CONNECTION', 'maxChannelsPerConnection'],
  ['poll-timeout', 'POLLCAST_POLL_TIMEOUT', 'pollTimeoutMs'],
  ['max-waiting', 'POLLCAST_MAX_WAITING', 'maxWaiting'],
  ['max-waiting-per-client', 'POLLCAST_MAX_WAITING_PER_CLIENT', 'maxWaitingPerClient'],
  ['max-body', 'POLLCAST_MAX_BODY', 'maxBodyBytes'],
  ['heartbeat', 'POLLCAST_HEARTBEAT', 'heartbeatMs'],
  ['stream-buffer', 'POLLCAST_STREAM_BUFFER', 'streamBufferBytes'],
  ['publish-rate', 'POLLCAST_PUBLISH_RATE', 'publishRate'],
  ['publish-burst', 'POLLCAST_PUBLISH_BURST', 'publishBurst'],
  ['headers-timeout', 'POLLCAST_HEADERS_TIMEOUT', 'headersTimeoutMs'],
  ['request-timeout', 'POLLCAST_REQUEST_TIMEOUT', 'requestTimeoutMs'],
  ['publish-token', 'POLLCAST_PUBLISH_TOKEN', 'publishToken'],
  ['subscribe-token', 'POLLCAST_SUBSCRIBE_TOKEN', 'subscribeToken'],
  ['cors-origins', 'POLLCAST_CORS_ORIGINS', 'corsOrigins'],
  ['public', 'POLLCAST_PUBLIC', 'publicDir'],
  ['shutdown-grace', 'POLLCAST_SHUTDOWN_GRACE', 'shutdownGraceMs'],
  ['redis', 'REDIS_URL', 'redisUrl'],
] as const satisfies readonly (readonly [string, string, keyof PollcastOptions])[];

const TEXT_OPTIONS = new Set<keyof PollcastOptions>(['host', 'publicDir', 'publishToken', 'subscribeToken', 'redisUrl']);
const LIST_OPTIONS = new Set<keyof PollcastOptions>(['corsOrigins']);

/** How long after a stop request the process may take before it is ended regardless. */
const EXIT_WATCHDOG_MS = 1_000;

function readOptions(argv: string[], env: NodeJS.ProcessEnv): Partial<PollcastOptions> | undefined {
  const flags = Object.fromEntries(SETTINGS.map(([flag]) => [flag, { type: 'string' as const }]));
  const { values } = parseArgs({ args: argv, options: { ...flags, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) return undefined;
  const given = values as Record<string, string | boolean | undefined>;
  const options: Record<string, string | number | string[]> = {};
  for (const [flag, variable, key] of SETTINGS) {
    const raw = (given[flag] as string | undefined) ?? env[variable];
    if (raw === undefined || raw === '') continue;
    options[key] = TEXT_OPTIONS.has(key) ? raw : LIST_OPTIONS.has(key) ? toList(raw) : toNumber(flag, raw);
  }
  return options as Partial<PollcastOptions>;
}

function toNumber(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw)) throw new RangeError(`--${flag} must be a whole number, got "${raw}"`);
  return Number(raw);
}

function toList(raw: string): string[] {
  return raw.split(',').map((item) => item.trim()).filter(Boolean);
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

/** `pollcast chat …` is the terminal client, loaded only when asked for; the server never loads it. */
async function chat(): Promise<void> {
  const { chat: run } = await import('./chat/main.js');
  process.exit(await run(process.argv.slice(3), process.env, process));
}

void (process.argv[2] === 'chat' ? chat() : main());
