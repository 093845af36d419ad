import { fileURLToPath } from 'node:url';
import { parseTrustProxy } from './http/peer-address.js';
import { checkCsp } from './http/csp.js';
import { LOG_LEVELS } from './log.js';
import type { LogLevel } from './log.js';

/** Everything that can be configured, each with its default. */
export interface PollcastOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port: number;
  /** Interface to bind. Default `127.0.0.1`, so nothing is exposed by accident. */
  host: string;
  /** Messages kept per channel for clients that resume, at most 100 000. Default 1000. */
  historyLimit: number;
  /**
   * Heap bytes the in-memory history may take across all channels, each
   * message charged its text, a fixed overhead and its idempotency key; the
   * oldest messages go first. A quarter of it again bounds the cached
   * batches (with `redisUrl` too). Default 64 MiB.
   */
  historyBytes: number;
  /** Channels kept at once; a new one pushes out the least recently used. Default 10 000. */
  maxChannels: number;
  /** Channels one connection may follow at once (`channels=`, WebSocket `subscribe` frames), 1 to 1024. Default 64. */
  maxChannelsPerConnection: number;
  /** How long an idle long poll is held before it answers 204, in ms. Default 25 000 (RFC 6202 §5.5: under common proxy timeouts). */
  pollTimeoutMs: number;
  /** Polls held at once; beyond it, 503 with `Retry-After`. Default 10 000. */
  maxWaiting: number;
  /** Polls held at once for one client address. Default 100. */
  maxWaitingPerClient: number;
  /** Largest message body accepted, in bytes. Default 65 536 (64 KiB). */
  maxBodyBytes: number;
  /** Server-sent event streams write a comment this often, so proxies keep them open, in ms. Default 15 000. */
  heartbeatMs: number;
  /**
   * Unsent bytes one connection may hold, on every transport: a long-poll or
   * `/messages` answer carries at most this much (the cursor says where to
   * go on), a stream writes its backlog in pieces under it, and a reader
   * this far behind is cut (it resumes from its cursor). Default 1 MiB.
   */
  streamBufferBytes: number;
  /**
   * Unsent bytes all connections together may hold. When an answer would
   * pass it, the connections stuck longest are dropped to make room, else
   * the answer is refused with `503`. At least `streamBufferBytes`.
   * Default 64 MiB.
   */
  outboundBytes: number;
  /** Bytes handed to a connection must be taken by it within this, or it is dropped, in ms. Default 10 000. */
  writeTimeoutMs: number;
  /** Publishes per second one client address may sustain; 0 for no limit. Default 20. */
  publishRate: number;
  /** Publishes one client address may send in a burst above the rate. Default 40. */
  publishBurst: number;
  /** A client must send all its request headers within this, in ms. Default 15 000. */
  headersTimeoutMs: number;
  /** A client must send its whole request (headers and body) within this, in ms. Default 30 000. */
  requestTimeoutMs: number;
  /** When set, `POST /publish` needs `Authorization: Bearer <token>`. Default none. */
  publishToken: string;
  /** When set, reading (`/subscribe`, `/events`, `/messages`, `/ws`) and `/stats` need the token (header, or `?access_token=`). Default none. */
  subscribeToken: string;
  /**
   * Shared secret for signed tokens (JWT, HS256), at least 32 characters.
   * With it (or `jwtPublicKey`), every channel needs a token whose claims
   * grant the right on it. Default none.
   */
  jwtSecret: string;
  /** Public key for signed tokens: PEM (RSA → RS256, P-256 → ES256, Ed25519 → EdDSA) or a JWKS. Default none. */
  jwtPublicKey: string;
  /** The `iss` a token must carry. Default any. */
  jwtIssuer: string;
  /** The `aud` a token must carry. Default any. */
  jwtAudience: string;
  /** Origins allowed to call the API from other sites (CORS); `*` for any. Default none. */
  corsOrigins: readonly string[];
  /** Folder of the page and its scripts. Default the package's `public/`. */
  publicDir: string;
  /** On shutdown, how long in-flight requests may take before their sockets are cut, in ms. Default 5 000. */
  shutdownGraceMs: number;
  /**
   * Keep channels and history in Redis Streams at this URL
   * (`redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS),
   * shared by every instance given the same URL. Default none: in memory.
   */
  redisUrl: string;
  /**
   * Proxies whose `Forwarded` / `X-Forwarded-For` are believed, for the
   * per-client limits and the logs: addresses and CIDR networks
   * (`127.0.0.1,10.0.0.0/8`, or `loopback`, `linklocal`, `uniquelocal`),
   * or a number of proxy hops. Default none: the headers are ignored.
   */
  trustProxy: string;
  /**
   * The page's Content-Security-Policy: `strict` (same-origin scripts only),
   * `page` (inline scripts and styles too), `off`, or a whole policy of your
   * own. Default `''`: `strict` for pollcast's own page, `page` for a `publicDir` of yours.
   */
  csp: string;
  /** `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. Default `info`. */
  logLevel: LogLevel;
  /** When set, `/stats` and `/metrics` need `Authorization: Bearer <token>`. Default none. */
  adminToken: string;
  /** When not 0, `/stats` and `/metrics` are served on this port only (with `/healthz`, `/readyz`), not on `port`. Default 0: none. */
  adminPort: number;
  /** Interface the admin port binds. Default `127.0.0.1`. */
  adminHost: string;
  /**
   * A `pollTimeoutMs` or `heartbeatMs` over 55 s is refused, since common
   * proxies cut a silent connection after 60 s; set this to allow it. Default false.
   */
  allowLongTimeouts: boolean;
}

/** Common proxies (nginx's `proxy_read_timeout`, many load balancers) cut a silent connection after 60 s. */
export const PROXY_SAFE_MS = 55_000;

/** The defaults, in one place. */
export const DEFAULTS: Readonly<PollcastOptions> = Object.freeze({
  port: 8080,
  host: '127.0.0.1',
  historyLimit: 1000,
  historyBytes: 64 * 1024 * 1024,
  maxChannels: 10_000,
  maxChannelsPerConnection: 64,
  pollTimeoutMs: 25_000,
  maxWaiting: 10_000,
  maxWaitingPerClient: 100,
  maxBodyBytes: 64 * 1024,
  heartbeatMs: 15_000,
  streamBufferBytes: 1024 * 1024,
  outboundBytes: 64 * 1024 * 1024,
  writeTimeoutMs: 10_000,
  publishRate: 20,
  publishBurst: 40,
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  publishToken: '',
  subscribeToken: '',
  jwtSecret: '',
  jwtPublicKey: '',
  jwtIssuer: '',
  jwtAudience: '',
  corsOrigins: Object.freeze([]),
  publicDir: fileURLToPath(new URL('../public', import.meta.url)),
  shutdownGraceMs: 5_000,
  redisUrl: '',
  trustProxy: '',
  csp: '',
  logLevel: 'info',
  adminToken: '',
  adminPort: 0,
  adminHost: '127.0.0.1',
  allowLongTimeouts: false,
});

/** The folder of pollcast's own page, which gets the strict policy. */
export const OWN_PUBLIC_DIR = DEFAULTS.publicDir;

type NumberKey = { [K in keyof PollcastOptions]: PollcastOptions[K] extends number ? K : never }[keyof PollcastOptions];

/** Every whole-number option, with the smallest and largest value it may take. */
const RANGES: Record<NumberKey, readonly [number, number]> = {
  port: [0, 65_535],
  historyLimit: [1, 100_000],
  historyBytes: [1, 2 ** 40],
  maxChannels: [1, 10_000_000],
  maxChannelsPerConnection: [1, 1024],
  pollTimeoutMs: [10, 3_600_000],
  maxWaiting: [1, 10_000_000],
  maxWaitingPerClient: [1, 10_000_000],
  maxBodyBytes: [1, 1024 * 1024 * 1024],
  heartbeatMs: [10, 3_600_000],
  streamBufferBytes: [1024, 1024 * 1024 * 1024],
  outboundBytes: [1024, 2 ** 40],
  writeTimeoutMs: [100, 3_600_000],
  publishRate: [0, 1_000_000],
  publishBurst: [1, 1_000_000],
  headersTimeoutMs: [100, 600_000],
  requestTimeoutMs: [100, 3_600_000],
  shutdownGraceMs: [0, 600_000],
  adminPort: [0, 65_535],
};

const ORIGIN = /^(\*|https?:\/\/[^/\s]+)$/;

/**
 * Merges `overrides` over the defaults and rejects bad values now, so a
 * mistake fails at start-up rather than on some later request.
 */
export function resolveOptions(overrides: Partial<PollcastOptions> = {}): PollcastOptions {
  const options: PollcastOptions = { ...DEFAULTS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in DEFAULTS)) throw new TypeError(`unknown option "${key}"`);
    (options as unknown as Record<string, unknown>)[key] = value;
  }
  for (const [key, [min, max]] of Object.entries(RANGES)) {
    const value = options[key as NumberKey];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(`${key} must be a whole number from ${min} to ${max}, got ${String(value)}`);
    }
  }
  for (const key of ['host', 'publicDir', 'adminHost'] as const) {
    if (typeof options[key] !== 'string' || options[key] === '') throw new TypeError(`${key} must be a non-empty string`);
  }
  for (const key of ['publishToken', 'subscribeToken', 'adminToken'] as const) {
    if (typeof options[key] !== 'string' || /[^\x21-\x7e]/.test(options[key])) throw new TypeError(`${key} must be visible ASCII`);
  }
  if (typeof options.allowLongTimeouts !== 'boolean') throw new TypeError('allowLongTimeouts must be true or false');
  for (const key of ['pollTimeoutMs', 'heartbeatMs'] as const) {
    if (options[key] > PROXY_SAFE_MS && !options.allowLongTimeouts) {
      throw new RangeError(
        `${key} over ${PROXY_SAFE_MS} ms is cut by common proxies (60 s); allow it explicitly with allowLongTimeouts (--allow-long-timeouts)`,
      );
    }
  }
  if (options.adminPort !== 0 && options.adminPort === options.port) throw new RangeError('adminPort must differ from port');
  if (typeof options.trustProxy !== 'string') throw new TypeError('trustProxy must be a string');
  parseTrustProxy(options.trustProxy);
  if (typeof options.csp !== 'string') throw new TypeError('csp must be a string');
  if (options.csp !== '') checkCsp(options.csp);
  if (!(LOG_LEVELS as readonly string[]).includes(options.logLevel))
    throw new TypeError(`logLevel must be one of ${LOG_LEVELS.join(', ')}`);
  if (options.streamBufferBytes > options.outboundBytes) throw new RangeError('streamBufferBytes must not exceed outboundBytes');
  for (const key of ['jwtSecret', 'jwtPublicKey', 'jwtIssuer', 'jwtAudience'] as const) {
    if (typeof options[key] !== 'string') throw new TypeError(`${key} must be a string`);
  }
  if (options.jwtSecret !== '' && options.jwtSecret.length < 32)
    throw new RangeError('jwtSecret must be at least 32 characters (HS256 wants 256 bits)');
  if (options.headersTimeoutMs > options.requestTimeoutMs) throw new RangeError('headersTimeoutMs must not exceed requestTimeoutMs');
  if (typeof options.redisUrl !== 'string') throw new TypeError('redisUrl must be a string');
  if (options.redisUrl !== '') checkRedisUrl(options.redisUrl);
  if (!Array.isArray(options.corsOrigins) || !options.corsOrigins.every((origin) => ORIGIN.test(origin))) {
    throw new TypeError('corsOrigins must be origins like https://example.com, or *');
  }
  return options;
}

/** A Redis URL has the scheme, a host, and at most a database number for its path. */
function checkRedisUrl(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError('redisUrl must be a URL like redis://127.0.0.1:6379');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new TypeError('redisUrl must start with redis:// or rediss://');
  if (url.hostname === '') throw new TypeError('redisUrl must name a host, like redis://127.0.0.1:6379');
  if (!/^\/?(\d{1,2})?$/.test(url.pathname))
    throw new TypeError('redisUrl may only carry a database number as its path, like redis://host/0');
}
