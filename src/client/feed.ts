/**
 * One way to follow a channel whatever the transport: `createFeed` picks
 * the long poll, server-sent events, a WebSocket or interval polling, and
 * each keeps the same promises — the history first from `since`, every
 * message once and in order, resumed from the last cursor after any
 * failure, `onMissed` for a gap, the same states and backoff, and a
 * `close()` that stops everything. DOM-free: Node's `fetch` and the `ws`
 * package's `WebSocket` serve as well as a browser's.
 */

import { EventStreamFeed } from './event-stream-feed.js';
import { IntervalPoller } from './interval-poller.js';
import { Poller } from './poller.js';
import type { PollerOptions, PollerState } from './poller.js';
import { WebSocketFeed } from './websocket-feed.js';
import type { WebSocketConstructor } from './websocket-feed.js';

export type { WebSocketConstructor, WebSocketLike } from './websocket-feed.js';

/** The transports, the default first. */
export const TRANSPORTS = ['longpoll', 'eventsource', 'websocket', 'poll'] as const;

/** `longpoll` (`GET /subscribe`), `eventsource` (`GET /events`), `websocket` (`/ws`), `poll` (`GET /messages`). */
export type Transport = (typeof TRANSPORTS)[number];

/** The Poller's options, and what chooses and tunes the transport. */
export interface FeedOptions extends PollerOptions {
  /** Default `'longpoll'`. */
  transport?: Transport;
  /** For `websocket`. Default `globalThis.WebSocket`; in Node, `import { WebSocket } from 'ws'`. */
  WebSocket?: WebSocketConstructor;
  /** For `poll`: ms from one answer to the next request. Default 2000. */
  pollInterval?: number;
}

/** A channel being followed. */
export interface Feed {
  /** Where the feed resumes; hand it to a new feed as `since` to carry on. */
  readonly cursor: string;
  /** One of `connecting`, `live`, `reconnecting`, `offline`, `closed`. */
  readonly state: PollerState;
  /** Aborts the request or closes the socket, clears every timer, stops for good. Idempotent. */
  close(): void;
}

/**
 * Starts following a channel over `options.transport`. Bad options throw here.
 *
 * @example
 * import { WebSocket } from 'ws';
 * const feed = createFeed({ base: 'http://127.0.0.1:8080', transport: 'websocket', WebSocket, onMessage: (m) => console.log(m.text) });
 */
export function createFeed(options: FeedOptions): Feed {
  const transport = options.transport ?? 'longpoll';
  switch (transport) {
    case 'longpoll':
      return new Poller(options);
    case 'eventsource':
      return new EventStreamFeed(options);
    case 'websocket':
      return new WebSocketFeed(options);
    case 'poll':
      return new IntervalPoller(options);
    default:
      throw new TypeError(`unknown transport: ${JSON.stringify(transport satisfies never)}`);
  }
}

/** Whether `value` names a transport. */
export function isTransport(value: string): value is Transport {
  return (TRANSPORTS as readonly string[]).includes(value);
}
