/**
 * What a feed is asked to do, declared once for every transport: which
 * transport, where and what to follow, the listeners and the backoff (from
 * `CursorFeedOptions`), and the few settings only one transport reads.
 * Every feed class takes these options and ignores the other transports' settings.
 */

import type { CursorFeedOptions } from './cursor-feed.js';
import type { FeedFetch } from './http-answer.js';

/** The transports, the default first. */
export const TRANSPORTS = ['longpoll', 'eventsource', 'websocket', 'poll'] as const;

/** `longpoll` (`GET /subscribe`), `eventsource` (`GET /events`), `websocket` (`/ws`), `poll` (`GET /messages`). */
export type Transport = (typeof TRANSPORTS)[number];

// Method syntax makes the event parameter bivariant, so that classes whose events carry more
// (the DOM's MessageEvent, ws's) still fit these handler slots.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of a WebSocket used here: the browser's API, which the `ws` package also offers. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ readonly data: unknown }> | null;
  onclose: Handler<{ readonly code: number; readonly reason: string }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `import { WebSocket } from 'ws'` in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The options of every feed (see `ReconnectOptions` for the backoff and `DeliveryListeners` for the listeners). */
export interface FeedOptions extends CursorFeedOptions {
  /** How to follow the channel; read by `createFeed`. Default `'longpoll'`. */
  transport?: Transport;
  /** Server root the paths hang off, without a trailing slash. Default `'.'` (the page's directory). */
  base?: string;
  /** Channel to follow, `[A-Za-z0-9_-]{1,64}`. Default `'default'` (the bare `/subscribe`). */
  channel?: string;
  /** Bearer token, for a server started with `--subscribe-token`. Default none. */
  token?: string;
  /** For `longpoll`, `eventsource` and `poll`. Default `globalThis.fetch`. */
  fetch?: FeedFetch;
  /**
   * For `longpoll`: a poll still open after this many ms counts as `live`: the server has taken it and parked it.
   * Without this an idle channel would look `connecting` until the poll timeout. Default 1500.
   */
  liveAfter?: number;
  /** For `poll`: ms from one answer to the next request. Default 2000. */
  pollInterval?: number;
  /** For `websocket`. Default `globalThis.WebSocket`; in Node, `import { WebSocket } from 'ws'`. */
  WebSocket?: WebSocketConstructor;
}
