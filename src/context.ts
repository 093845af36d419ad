import type { IncomingMessage } from 'node:http';
import { rightsCheck, tokenCheck } from './auth.js';
import type { Rights } from './auth.js';
import { createCors } from './cors.js';
import type { Cors } from './cors.js';
import type { Hub } from './hub.js';
import type { PollcastOptions } from './options.js';
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
  readonly cors: Cors;
  /** Throw 401 unless the request carries the publish / subscribe token (when one is set). */
  readonly requirePublishToken: (req: IncomingMessage) => void;
  readonly requireSubscribeToken: (req: IncomingMessage, query: URLSearchParams) => void;
  /** What a list of tokens grants (each token its own rights), for a connection that gathers them. */
  readonly rights: (tokens: readonly string[]) => Rights;
  closing: boolean;
}

/** Everything the routes share, computed once from the options. */
export function createContext(hub: Hub, options: PollcastOptions): Context {
  return {
    hub,
    options,
    room: new WaitingRoom(options.maxWaiting, options.maxWaitingPerClient),
    publishRate: new RateLimiter(options.publishRate, options.publishBurst),
    cors: createCors(options.corsOrigins),
    requirePublishToken: tokenCheck(options.publishToken),
    requireSubscribeToken: tokenCheck(options.subscribeToken),
    rights: rightsCheck(options.subscribeToken, options.publishToken),
    closing: false,
  };
}
