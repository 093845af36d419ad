import type { IncomingMessage } from 'node:http';
import { adminCheck, Authority } from './auth.js';
import type { Rights } from './auth.js';
import { clientKeyWith, parseTrustProxy } from './peer-address.js';
import { contentSecurityPolicy, defaultCsp } from './csp.js';
import { createCors } from './cors.js';
import type { Cors } from './cors.js';
import type { Hub } from '../hub.js';
import { LimitLog } from '../log.js';
import { Flusher } from './flusher.js';
import { Heartbeat } from './heartbeat.js';
import { LIMIT_CODES } from './errors.js';
import type { ErrorCode } from './errors.js';
import { createScrape, refused } from '../metrics.js';
import type { Logger } from '../log.js';
import { OWN_PUBLIC_DIR } from '../options.js';
import type { PollcastOptions } from '../options.js';
import { Outbound } from './outbound.js';
import { PollClock } from './poll-clock.js';
import type { Presence } from '../presence.js';
import { RateLimiter } from './rate-limit.js';
import { WaitingRoom } from './waiting-room.js';

/** What every route may read: the hub, the options, the limits, and whether the server is closing. */
export interface Context {
  readonly hub: Hub;
  readonly options: PollcastOptions;
  /** Polls held, against `maxWaiting` and `maxWaitingPerClient`. */
  readonly room: WaitingRoom;
  /** Publishes per client, against `publishRate` and `publishBurst`. */
  readonly publishRate: RateLimiter;
  /** Unsent bytes of every connection, against `outboundBytes`, `streamBufferBytes` and `writeTimeoutMs`. */
  readonly outbound: Outbound;
  /** The long polls' timeouts, at `pollTimeoutMs` less a jitter. */
  readonly pollClock: PollClock;
  /** SSE heartbeats and WebSocket pings, every `heartbeatMs`; stopped by the server's `close()`. */
  readonly heartbeat: Heartbeat;
  /** One write per stream per turn of the event loop: event streams and WebSockets flush here. */
  readonly flusher: Flusher;
  readonly cors: Cors;
  /** Static tokens and JWT keys: whether signed tokens are checked, and its counters. */
  readonly auth: Authority;
  /**
   * What a list of tokens grants, channel by channel (each token its own
   * rights): at once when every token is known, else once verified.
   */
  readonly rights: (tokens: readonly string[]) => Rights | Promise<Rights>;
  /** Who is subscribed where. */
  readonly presence: Presence;
  /**
   * Throw 401 unless the request may read the counters (`/stats`, `/metrics`): see `adminCheck`.
   */
  readonly requireAdminToken: (req: IncomingMessage, query: URLSearchParams) => void;
  /** The key the per-client limits count against, through trusted proxies (`trustProxy`). */
  readonly clientKey: (req: IncomingMessage) => string;
  /** The page's `Content-Security-Policy` for a request's `Host`, or undefined for none. */
  readonly csp: (host: string | undefined) => string | undefined;
  readonly log: Logger;
  /** Limits hit, logged without flooding. */
  readonly limits: LimitLog;
  /** Answers a `/metrics` scrape. */
  readonly scrape: () => Promise<string>;
  /** True while `listen()` connects the storage and binds: `/readyz` answers 503. */
  starting: boolean;
  closing: boolean;
}

/**
 * How long a poll's author stays listed after its poll timeout: time for it
 * to come back with the next poll. Half a poll timeout, from 1 to 10 s.
 */
export function presenceGrace(pollTimeoutMs: number): number {
  return Math.min(10_000, Math.max(1_000, Math.round(pollTimeoutMs / 2)));
}

/** Everything the routes share, computed once from the options. */
export function createContext(hub: Hub, presence: Presence, options: PollcastOptions, log: Logger): Context {
  const csp = options.csp || defaultCsp(options.publicDir, OWN_PUBLIC_DIR);
  const auth = new Authority({
    subscribeToken: options.subscribeToken,
    publishToken: options.publishToken,
    secret: options.jwtSecret,
    publicKey: options.jwtPublicKey,
    issuer: options.jwtIssuer,
    audience: options.jwtAudience,
  });
  return {
    hub,
    options,
    room: new WaitingRoom(options.maxWaiting, options.maxWaitingPerClient),
    publishRate: new RateLimiter(options.publishRate, options.publishBurst),
    outbound: new Outbound({
      totalBytes: options.outboundBytes,
      connectionBytes: options.streamBufferBytes,
      writeTimeoutMs: options.writeTimeoutMs,
    }),
    pollClock: new PollClock(options.pollTimeoutMs),
    heartbeat: new Heartbeat(options.heartbeatMs),
    flusher: new Flusher(),
    cors: createCors(options.corsOrigins),
    auth,
    rights: (tokens) => auth.rights(tokens),
    presence,
    requireAdminToken: adminCheck({
      adminToken: options.adminToken,
      adminPort: options.adminPort,
      subscribeToken: options.subscribeToken,
      jwt: options.jwtSecret !== '' || options.jwtPublicKey !== '',
    }),
    clientKey: clientKeyWith(parseTrustProxy(options.trustProxy)),
    csp: (host) => contentSecurityPolicy(csp, host),
    log,
    limits: new LimitLog(log),
    scrape: createScrape({ stats: () => hub.stats(), budgets: () => budgets(hub, options) }),
    starting: false,
    closing: false,
  };
}

/** Each memory budget, for `/metrics`: the bytes held against it and its limit. */
function budgets(hub: Hub, options: PollcastOptions): [string, number, number][] {
  const stats = hub.stats();
  // With Redis, history lives in Redis: this process holds none of it.
  return stats.storage ? [] : [['history', stats.bytes, options.historyBytes]];
}

/** A request, upgrade or frame was refused with `code`: counted, and logged when it is a limit. */
export function noteRefusal(ctx: Context, req: IncomingMessage, code: ErrorCode): void {
  refused(code);
  if (LIMIT_CODES.has(code)) ctx.limits.hit(code, ctx.clientKey(req));
}
