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
import { TRANSPORTS } from './feed-options.js';
import type { FeedOptions, Transport } from './feed-options.js';
import { IntervalPollFeed } from './interval-poll-feed.js';
import { LongPollFeed } from './long-poll-feed.js';
import type { FeedState } from './reconnect.js';
import { WebSocketFeed } from './websocket-feed.js';

export { TRANSPORTS };
export type { FeedOptions, Transport, WebSocketConstructor, WebSocketLike } from './feed-options.js';

/** A channel being followed. */
export interface Feed {
  /** Where the feed resumes; hand it to a new feed as `since` to carry on. */
  readonly cursor: string;
  /** One of `connecting`, `live`, `reconnecting`, `offline`, `closed`. */
  readonly state: FeedState;
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
      return new LongPollFeed(options);
    case 'eventsource':
      return new EventStreamFeed(options);
    case 'websocket':
      return new WebSocketFeed(options);
    case 'poll':
      return new IntervalPollFeed(options);
    default:
      throw new TypeError(`unknown transport: ${JSON.stringify(transport satisfies never)}`);
  }
}

/** Whether `value` names a transport. */
export function isTransport(value: string): value is Transport {
  return (TRANSPORTS as readonly string[]).includes(value);
}
