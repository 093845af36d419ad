import { Authority } from './auth.js';
import type { Rights } from './auth.js';
import { createCors } from './cors.js';
import type { Cors } from './cors.js';
import type { Hub } from './hub.js';
import type { PollcastOptions } from './options.js';
import { LocalPresence } from './presence.js';
import type { Presence } from './presence.js';
import { RateLimiter } from './rate-limit.js';
import { RedisPresence } from './redis-presence.js';
import { WaitingRoom } from './waiting-room.js';

/** What every route may read: the hub, the options, the limits, and whether the server is closing. */
export interface Context {
  readonly hub: Hub;
  readonly options: PollcastOptions;
  /** Polls held, against `maxWaiting` and `maxWaitingPerClient`. */
  readonly room: WaitingRoom;
  /** Publishes per client, against `publishRate` and `publishBurst`. */
  readonly publishRate: RateLimiter;
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
export function createContext(hub: Hub, options: PollcastOptions): Context {
  const auth = new Authority({
    subscribeToken: options.subscribeToken,
    publishToken: options.publishToken,
    secret: options.jwtSecret,
    publicKey: options.jwtPublicKey,
    issuer: options.jwtIssuer,
    audience: options.jwtAudience,
  });
  // One entry per author per channel, as many as subscribers can be held at once.
  const budget = options.maxWaiting;
  return {
    hub,
    options,
    room: new WaitingRoom(options.maxWaiting, options.maxWaitingPerClient),
    publishRate: new RateLimiter(options.publishRate, options.publishBurst),
    cors: createCors(options.corsOrigins),
    auth,
    rights: (tokens) => auth.rights(tokens),
    presence: options.redisUrl ? new RedisPresence(options.redisUrl, budget) : new LocalPresence(budget),
    closing: false,
  };
}
