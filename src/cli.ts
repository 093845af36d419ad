#!/usr/bin/env node
/**
 * The process entry: flags and environment → options → listen → signals and
 * IPC. The only file that calls `process.exit`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULTS, PROXY_SAFE_MS } from './options.js';
import type { PollcastOptions } from './options.js';
import { createPollcast } from './server.js';
import type { PollcastServer } from './server.js';

/** The usage text; the defaults it shows come from `DEFAULTS`. */
const USAGE = `usage: pollcast [options]
       pollcast chat [URL] [options]   (a terminal client: pollcast chat --help)

  --port N                   TCP port, 0 for any free one         (PORT, default ${DEFAULTS.port})
  --host H                   interface to bind                     (HOST, default ${DEFAULTS.host})
  --history N                messages kept per channel, max 100000 (POLLCAST_HISTORY, default ${DEFAULTS.historyLimit})
  --history-bytes BYTES      memory for history in all channels    (POLLCAST_HISTORY_BYTES, default ${DEFAULTS.historyBytes})
  --max-channels N           channels kept at once                 (POLLCAST_MAX_CHANNELS, default ${DEFAULTS.maxChannels})
  --max-channels-per-connection N  channels one connection may follow (POLLCAST_MAX_CHANNELS_PER_CONNECTION, default ${DEFAULTS.maxChannelsPerConnection})
  --poll-timeout MS          idle long poll ends with 204          (POLLCAST_POLL_TIMEOUT, default ${DEFAULTS.pollTimeoutMs}; over ${PROXY_SAFE_MS} needs --allow-long-timeouts)
  --max-waiting N            polls held at once                    (POLLCAST_MAX_WAITING, default ${DEFAULTS.maxWaiting})
  --max-waiting-per-client N polls held at once per client address (POLLCAST_MAX_WAITING_PER_CLIENT, default ${DEFAULTS.maxWaitingPerClient})
  --max-body BYTES           largest message accepted              (POLLCAST_MAX_BODY, default ${DEFAULTS.maxBodyBytes})
  --heartbeat MS             comment on event streams this often   (POLLCAST_HEARTBEAT, default ${DEFAULTS.heartbeatMs}; over ${PROXY_SAFE_MS} needs --allow-long-timeouts)
  --allow-long-timeouts      allow a poll timeout or heartbeat that common proxies cut (over 55 s)  (POLLCAST_ALLOW_LONG_TIMEOUTS=1)
  --stream-buffer BYTES      unsent bytes one connection may hold  (POLLCAST_STREAM_BUFFER, default ${DEFAULTS.streamBufferBytes})
  --outbound-bytes BYTES     unsent bytes all connections may hold (POLLCAST_OUTBOUND_BYTES, default ${DEFAULTS.outboundBytes})
  --write-timeout MS         time a connection has to take what it was sent (POLLCAST_WRITE_TIMEOUT, default ${DEFAULTS.writeTimeoutMs})
  --publish-rate N           publishes per second per client, 0=off (POLLCAST_PUBLISH_RATE, default ${DEFAULTS.publishRate})
  --publish-burst N          publishes in a burst per client       (POLLCAST_PUBLISH_BURST, default ${DEFAULTS.publishBurst})
  --headers-timeout MS       time to send the request headers      (POLLCAST_HEADERS_TIMEOUT, default ${DEFAULTS.headersTimeoutMs})
  --request-timeout MS       time to send the whole request        (POLLCAST_REQUEST_TIMEOUT, default ${DEFAULTS.requestTimeoutMs})
  --publish-token T          bearer token required to publish      (POLLCAST_PUBLISH_TOKEN, default none)
  --subscribe-token T        bearer token required to subscribe    (POLLCAST_SUBSCRIBE_TOKEN, default none)
  --jwt-secret S             HS256 secret for signed tokens (JWT)  (POLLCAST_JWT_SECRET, default none)
  --jwt-secret-file FILE     the same, read from a file            (POLLCAST_JWT_SECRET_FILE)
  --jwt-public-key FILE      PEM public key or JWKS for JWT (RS256, ES256, EdDSA) (POLLCAST_JWT_PUBLIC_KEY)
  --jwt-issuer ISS           the iss a token must carry            (POLLCAST_JWT_ISSUER, default any)
  --jwt-audience AUD         the aud a token must carry            (POLLCAST_JWT_AUDIENCE, default any)
  --cors-origins LIST        origins allowed cross-site, comma-separated, or *  (POLLCAST_CORS_ORIGINS, default none)
  --public DIR               folder of the page                    (POLLCAST_PUBLIC, default the package's public/)
  --shutdown-grace MS        time to finish requests on stop       (POLLCAST_SHUTDOWN_GRACE, default ${DEFAULTS.shutdownGraceMs})
  --redis URL                keep channels in Redis Streams, shared by every instance (REDIS_URL, default none: in memory)
  --trust-proxy LIST|N       proxies whose Forwarded/X-Forwarded-For is believed: addresses, CIDRs,
                             loopback, linklocal, uniquelocal, or a hop count (POLLCAST_TRUST_PROXY, default none)
  --csp POLICY               the page's CSP: strict, page (inline scripts allowed), off, or a whole policy
                             (POLLCAST_CSP, default strict for the built-in page, page for --public)
  --log-level LEVEL          fatal, error, warn, info, debug, trace, silent (POLLCAST_LOG_LEVEL, default ${DEFAULTS.logLevel})
  --admin-token T            bearer token required for /stats and /metrics (POLLCAST_ADMIN_TOKEN, default none)
  --admin-port N             serve /stats and /metrics on this port only  (POLLCAST_ADMIN_PORT, default none)
  --admin-host H             interface of the admin port             (POLLCAST_ADMIN_HOST, default ${DEFAULTS.adminHost})
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
  ['outbound-bytes', 'POLLCAST_OUTBOUND_BYTES', 'outboundBytes'],
  ['write-timeout', 'POLLCAST_WRITE_TIMEOUT', 'writeTimeoutMs'],
  ['publish-rate', 'POLLCAST_PUBLISH_RATE', 'publishRate'],
  ['publish-burst', 'POLLCAST_PUBLISH_BURST', 'publishBurst'],
  ['headers-timeout', 'POLLCAST_HEADERS_TIMEOUT', 'headersTimeoutMs'],
  ['request-timeout', 'POLLCAST_REQUEST_TIMEOUT', 'requestTimeoutMs'],
  ['publish-token', 'POLLCAST_PUBLISH_TOKEN', 'publishToken'],
  ['subscribe-token', 'POLLCAST_SUBSCRIBE_TOKEN', 'subscribeToken'],
  ['jwt-secret', 'POLLCAST_JWT_SECRET', 'jwtSecret'],
  ['jwt-secret-file', 'POLLCAST_JWT_SECRET_FILE', 'jwtSecret'],
  ['jwt-public-key', 'POLLCAST_JWT_PUBLIC_KEY', 'jwtPublicKey'],
  ['jwt-issuer', 'POLLCAST_JWT_ISSUER', 'jwtIssuer'],
  ['jwt-audience', 'POLLCAST_JWT_AUDIENCE', 'jwtAudience'],
  ['cors-origins', 'POLLCAST_CORS_ORIGINS', 'corsOrigins'],
  ['public', 'POLLCAST_PUBLIC', 'publicDir'],
  ['shutdown-grace', 'POLLCAST_SHUTDOWN_GRACE', 'shutdownGraceMs'],
  ['redis', 'REDIS_URL', 'redisUrl'],
  ['trust-proxy', 'POLLCAST_TRUST_PROXY', 'trustProxy'],
  ['csp', 'POLLCAST_CSP', 'csp'],
  ['log-level', 'POLLCAST_LOG_LEVEL', 'logLevel'],
  ['admin-token', 'POLLCAST_ADMIN_TOKEN', 'adminToken'],
  ['admin-port', 'POLLCAST_ADMIN_PORT', 'adminPort'],
  ['admin-host', 'POLLCAST_ADMIN_HOST', 'adminHost'],
] as const satisfies readonly (readonly [string, string, keyof PollcastOptions])[];

const TEXT_OPTIONS = new Set<keyof PollcastOptions>([
  'host',
  'publicDir',
  'publishToken',
  'subscribeToken',
  'redisUrl',
  'trustProxy',
  'csp',
  'logLevel',
  'adminToken',
  'adminHost',
  'jwtSecret',
  'jwtIssuer',
  'jwtAudience',
]);
/** Flags whose value names a file to read the option from (a secret kept out of `ps`, a key). */
const FILE_FLAGS = new Set(['jwt-secret-file', 'jwt-public-key']);
const LIST_OPTIONS = new Set<keyof PollcastOptions>(['corsOrigins']);

/** How long after a stop request the process may take before it is ended regardless. */
const EXIT_WATCHDOG_MS = 1_000;

function readOptions(argv: string[], env: NodeJS.ProcessEnv): Partial<PollcastOptions> | undefined {
  const flags = Object.fromEntries(SETTINGS.map(([flag]) => [flag, { type: 'string' as const }]));
  const { values } = parseArgs({
    args: argv,
    options: { ...flags, 'allow-long-timeouts': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) return undefined;
  const given = values as Record<string, string | boolean | undefined>;
  const options: Record<string, string | number | string[] | boolean> = {};
  if (given['allow-long-timeouts'] === true || /^(1|true|yes)$/i.test(env.POLLCAST_ALLOW_LONG_TIMEOUTS ?? ''))
    options.allowLongTimeouts = true;
  for (const [flag, variable, key] of SETTINGS) {
    const raw = (given[flag] as string | undefined) ?? env[variable];
    if (raw === undefined || raw === '') continue;
    if (FILE_FLAGS.has(flag)) options[key] = readFileSync(raw, 'utf8').trim();
    else options[key] = TEXT_OPTIONS.has(key) ? raw : LIST_OPTIONS.has(key) ? toList(raw) : toNumber(flag, raw);
  }
  return options as Partial<PollcastOptions>;
}

function toNumber(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw)) throw new RangeError(`--${flag} must be a whole number, got "${raw}"`);
  return Number(raw);
}

function toList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
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
    pollcast.log.fatal({ event: 'exit', err: error }, 'cannot start');
    process.stderr.write(`pollcast: ${(error as Error).message}\n`);
    process.exit(1);
  }
  stopOnRequest(pollcast);
  process.send?.({ type: 'ready', port, adminPort: pollcast.adminAddress?.port });
}

/** `pollcast chat …` is the terminal client, loaded only when asked for; the server never loads it. */
async function chat(): Promise<void> {
  const { chat: run } = await import('./chat/main.js');
  process.exit(await run(process.argv.slice(3), process.env, process));
}

void (process.argv[2] === 'chat' ? chat() : main());
