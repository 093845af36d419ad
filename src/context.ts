import type { IncomingMessage } from 'node:http';
import { tokenCheck } from './auth.js';
import { createCors } from './cors.js';
import type { Cors } from './cors.js';
import type { Hub } from './hub.js';
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
  readonly cors: Cors;
  /** Throw 401 unless the request carries the publish / subscribe token (when one is set). */
  readonly requirePublishToken: (req: IncomingMessage) => void;
  readonly requireSubscribeToken: (req: IncomingMessage, query: URLSearchParams) => void;
  closing: boolean;
}

/** Everything the routes share, computed once from the options. */
export function createContext(hub: Hub, options: PollcastOptions): Context {
  return {
    hub,
    options,
    room: new WaitingRoom(options.maxWaiting, options.maxWaitingPerClient),
    publishRate: new RateLimiter(options.publishRate, options.publishBurst),
    outbound: new Outbound({ totalBytes: options.outboundBytes, connectionBytes: options.streamBufferBytes, writeTimeoutMs: options.writeTimeoutMs }),
    cors: createCors(options.corsOrigins),
    requirePublishToken: tokenCheck(options.publishToken),
    requireSubscribeToken: tokenCheck(options.subscribeToken),
    closing: false,
  };
}
