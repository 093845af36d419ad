import type { IncomingMessage } from 'node:http';
import { rightsCheck, tokenCheck } from './auth.js';
import type { Rights } from './auth.js';
import { clientKeyWith, parseTrustProxy } from './client-address.js';
import { contentSecurityPolicy, defaultCsp } from './csp.js';
import { createCors } from './cors.js';
import type { Cors } from './cors.js';
import { Heartbeat } from './heartbeat.js';
import type { Hub } from './hub.js';
import { LimitLog } from './log.js';
import { LIMIT_CODES } from './errors.js';
import type { ErrorCode } from './errors.js';
import { createScrape, refused } from './metrics.js';
import type { Logger } from './log.js';
import { OWN_PUBLIC_DIR } from './options.js';
import type { PollcastOptions } from './options.js';
import { Outbound } from './outbound.js';
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
  /** SSE heartbeats and WebSocket pings, every `heartbeatMs`; stopped by the server's `close()`. */
  readonly heartbeat: Heartbeat;
  readonly cors: Cors;
  /** Throw 401 unless the request carries the publish / subscribe token (when one is set). */
  readonly requirePublishToken: (req: IncomingMessage) => void;
  readonly requireSubscribeToken: (req: IncomingMessage, query: URLSearchParams) => void;
  /** What a list of tokens grants (each token its own rights), for a connection that gathers them. */
  readonly rights: (tokens: readonly string[]) => Rights;
  /**
   * Throw 401 unless the request carries the admin token, for `/stats` and `/metrics`; without an
   * admin token they tell who listens, so the subscribe token (when one is set) stands in.
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

/** Everything the routes share, computed once from the options. */
export function createContext(hub: Hub, options: PollcastOptions, log: Logger): Context {
  const csp = options.csp || defaultCsp(options.publicDir, OWN_PUBLIC_DIR);
  return {
    hub,
    options,
    room: new WaitingRoom(options.maxWaiting, options.maxWaitingPerClient),
    publishRate: new RateLimiter(options.publishRate, options.publishBurst),
    outbound: new Outbound({ totalBytes: options.outboundBytes, connectionBytes: options.streamBufferBytes, writeTimeoutMs: options.writeTimeoutMs }),
    heartbeat: new Heartbeat(options.heartbeatMs),
    cors: createCors(options.corsOrigins),
    requirePublishToken: tokenCheck(options.publishToken),
    requireSubscribeToken: tokenCheck(options.subscribeToken),
    rights: rightsCheck(options.subscribeToken, options.publishToken),
    requireAdminToken: tokenCheck(options.adminToken || options.subscribeToken),
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
