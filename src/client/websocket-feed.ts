/**
 * A channel over WebSocket (`/ws?since=`): the server's JSON frames, read
 * with the browser's `WebSocket` or any class of the same shape (the `ws`
 * package's in Node). The token travels as `?access_token=`, since a
 * browser's WebSocket cannot send headers. DOM-free.
 */

import type { Message } from '../protocol.js';
import { CursorFeed } from './cursor-feed.js';
import { isFrom } from '../protocol.js';
import { endpointUrl, failedRequest } from './http-answer.js';
import type { FeedOptions, WebSocketConstructor, WebSocketLike } from './feed-options.js';

export type { WebSocketConstructor, WebSocketLike } from './feed-options.js';

/** What the server sends that a feed reads; `published` and `error` answer publishes, which this feed sends none of. */
type Frame =
  | { readonly type: 'message'; readonly message: Message }
  | { readonly type: 'missed' }
  | { readonly type: 'cursor'; readonly cursor: string };

/**
 * Follows one channel over a WebSocket until `close()`.
 *
 * @example
 * const feed = new WebSocketFeed({ base: 'http://127.0.0.1:8080', WebSocket, onMessage: show });
 */
export class WebSocketFeed extends CursorFeed {
  readonly #url: URL;
  readonly #WebSocket: WebSocketConstructor;

  constructor(options: FeedOptions = {}) {
    super(options);
    this.#url = socketUrl(endpointUrl(options.base, 'ws', options.channel));
    if (options.name) this.#url.searchParams.set('name', options.name);
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof Socket !== 'function') throw new TypeError('no WebSocket: pass options.WebSocket');
    this.#WebSocket = Socket;
    this.start();
  }

  /** One socket, until it closes; resolves with the delay before the next. */
  protected attempt(signal: AbortSignal): Promise<number | null> {
    const url = new URL(this.#url);
    const token = this.tokens.token;
    if (token) url.searchParams.set('access_token', token);
    url.searchParams.set('since', this.cursor);
    let socket: WebSocketLike;
    try {
      socket = new this.#WebSocket(url.href);
    } catch (error) {
      return Promise.resolve(failedRequest(this.link, error, signal));
    }
    return new Promise((resolve) => {
      const finish = (delay: number | null): void => {
        signal.removeEventListener('abort', onAbort);
        socket.onopen = socket.onmessage = socket.onclose = null;
        // ws (Node) throws an 'error' nobody listens to, e.g. after a close() while connecting.
        socket.onerror = ignore;
        resolve(delay);
      };
      const onAbort = (): void => {
        socket.close(1000);
        finish(null);
      };
      signal.addEventListener('abort', onAbort);
      let opened = false;
      socket.onopen = () => {
        opened = true;
        this.tokens.accepted();
        this.link.connected();
      };
      socket.onmessage = (event) => this.#receive(event.data);
      // A refused upgrade (401, 503) shows as a close without a status: the API hides the answer, so a
      // refusal may be a token that expired while away. [protocol] 4001: the token expired while connected.
      socket.onclose = (event) => {
        socket.onopen = socket.onmessage = socket.onclose = null;
        void (event.code === TOKEN_EXPIRED || !opened ? this.tokens.renew() : Promise.resolve(false)).then((renewed) => {
          if (signal.aborted) return;
          finish(renewed ? null : this.link.fail({ status: null, reason: closeReason(event) }, null));
        });
      };
      socket.onerror = ignore;
    });
  }

  #receive(data: unknown): void {
    const frame = typeof data === 'string' ? parseFrame(data) : null;
    if (!frame) return;
    this.link.succeed();
    switch (frame.type) {
      case 'message':
        this.moveTo(frame.message.id);
        this.delivery.message(frame.message);
        break;
      case 'missed':
        // [protocol] its cursor is past the messages that follow it: moving there now could skip them.
        this.delivery.missed();
        break;
      case 'cursor':
        this.moveTo(frame.cursor);
        break;
    }
  }
}

/** The server's close code for a token that expired while connected. */
const TOKEN_EXPIRED = 4001;

/** The absolute `ws:`/`wss:` URL of a path, relative to the page when there is one. */
function socketUrl(path: string): URL {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL;
  try {
    url = new URL(path, page);
  } catch {
    throw new TypeError(`base must be an absolute URL outside a page: ${JSON.stringify(path)}`);
  }
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  return url;
}

/** A server frame a feed acts on, or `null` for anything else (unknown types are for later versions). */
export function parseFrame(data: string): Frame | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { type, id, text, time, cursor, from } = value as Record<string, unknown>;
  if (type === 'message' && typeof id === 'string' && typeof text === 'string' && typeof time === 'number') {
    return { type, message: isFrom(from) ? { id, text, time, from } : { id, text, time } };
  }
  if (type === 'missed') return { type };
  if (type === 'cursor' && typeof cursor === 'string') return { type, cursor };
  return null;
}

function closeReason({ code, reason }: { code: number; reason: string }): string {
  return reason ? `${reason} (${code})` : code === 1006 ? 'connection lost' : `closed (${code})`;
}

function ignore(): void {}
