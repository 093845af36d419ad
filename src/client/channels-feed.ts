/**
 * Several channels on one connection (`?channels=`), over any transport,
 * with channels added and dropped at any time: the long poll and interval
 * polling ask for the new set on their next request (a poll under way is
 * cut and sent again), the event stream reconnects from the current
 * positions, and a WebSocket sends `subscribe`/`unsubscribe` frames. Per
 * channel: history first, every message once and in order, `missed` before
 * a gap, resume from the channel's own cursor. DOM-free; the lifecycle
 * (states, backoff, `close()`) is the `Reconnector` every feed shares.
 */

import { channelSetQuery, decodeChannelBatches, decodePositions } from '../channel-set.js';
import { CHANNEL_NAME, isFrom, OLDEST } from '../protocol.js';
import type { Batch, Message } from '../protocol.js';
import { EventStreamParser } from './event-stream.js';
import type { StreamEvent } from './event-stream.js';
import type { Transport, WebSocketConstructor, WebSocketLike } from './feed-options.js';
import { failedAnswer, failedRequest, withToken } from './http-answer.js';
import type { ByteStream, FeedFetch, FeedResponse } from './http-answer.js';
import { call, CONNECTING, errorMessage, Reconnector } from './reconnect.js';
import type { FeedState, ReconnectOptions } from './reconnect.js';
import { RecentIds } from './recent-ids.js';
import { TokenSource } from './token-source.js';
import type { GetToken } from './token-source.js';

/** The options of a multi-channel feed: the single feeds' settings, and listeners that name the channel. */
export interface ChannelsFeedOptions extends ReconnectOptions {
  /** `longpoll` (default), `eventsource`, `websocket` or `poll`. */
  transport?: Transport;
  /** The server's origin (and path prefix). Default `.` (the page's). */
  base?: string;
  /** Sent as `Authorization: Bearer` (`?access_token=` on a WebSocket). */
  token?: string;
  /**
   * Called for a fresh token when the server refuses the one held (a `401`,
   * the event stream's `expired` event, a WebSocket closed with 4001); the
   * feed then resumes every channel from its cursor. Default none.
   */
  getToken?: GetToken;
  /** A display name to be listed under in each channel's `/presence` (`?name=`; a verified token's identity wins). Default none. */
  name?: string;
  fetch?: FeedFetch;
  WebSocket?: WebSocketConstructor;
  /** `poll`: ms between requests. Default 2000. */
  pollInterval?: number;
  /** `longpoll`: a poll parked this long counts as live. Default 1500 ms. */
  liveAfter?: number;
  /** Each message once, in order per channel. */
  onMessage?: (channel: string, message: Message) => void;
  /** Messages of `channel` were lost before what follows. */
  onMissed?: (channel: string) => void;
}

/**
 * @example
 * const feed = new ChannelsFeed({ base: 'http://127.0.0.1:8080', onMessage: (channel, m) => show(channel, m) });
 * feed.add('news'); feed.add('sport', savedCursor);
 * feed.remove('news');
 */
export class ChannelsFeed {
  readonly #options: ChannelsFeedOptions;
  readonly #transport: Transport;
  readonly #fetch: FeedFetch | undefined;
  readonly #link: Reconnector;
  /** The channels followed, each with the cursor to resume it from. */
  readonly #cursors = new Map<string, string>();
  readonly #seen = new Map<string, RecentIds>();
  /** Aborted when the set changes: the request under way is sent again for the new set. */
  #changed = new AbortController();
  #socket: WebSocketLike | null = null;
  readonly #tokens: TokenSource;
  /** The event stream ended with an `expired` event. */
  #expired = false;

  constructor(options: ChannelsFeedOptions = {}) {
    this.#options = options;
    this.#tokens = new TokenSource(options.token, options.getToken);
    this.#transport = options.transport ?? 'longpoll';
    if (this.#transport !== 'websocket') {
      this.#fetch = options.fetch ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined);
      if (!this.#fetch) throw new TypeError('no fetch: pass options.fetch');
    }
    this.#link = new Reconnector(options, (signal) => this.#attempt(signal));
    this.#link.start();
  }

  /** `connecting`, `live`, `reconnecting`, `offline` or `closed`. */
  get state(): FeedState {
    return this.#link.state;
  }

  /** The channels followed now. */
  get channels(): string[] {
    return [...this.#cursors.keys()];
  }

  /** Where `channel` would resume: its newest cursor, or undefined when it is not followed. */
  cursor(channel: string): string | undefined {
    return this.#cursors.get(channel);
  }

  /** Follows `channel` from `since` (default: its history). A channel followed already is left as it is. */
  add(channel: string, since: string = OLDEST): void {
    if (!CHANNEL_NAME.test(channel)) throw new TypeError(`invalid channel name: ${JSON.stringify(channel)}`);
    if (this.#cursors.has(channel)) return;
    this.#cursors.set(channel, since);
    if (!this.#seen.has(channel)) this.#seen.set(channel, new RecentIds());
    if (this.#socket && this.#socket.readyState === 1) this.#socket.send(JSON.stringify({ type: 'subscribe', channel, since }));
    else this.#restart();
  }

  /** Stops following `channel`; nothing more of it is reported. */
  remove(channel: string): void {
    if (!this.#cursors.delete(channel)) return;
    if (this.#socket && this.#socket.readyState === 1) this.#socket.send(JSON.stringify({ type: 'unsubscribe', channel }));
    else if (this.#transport !== 'websocket') this.#restart();
  }

  /** Stops for good. Idempotent. */
  close(): void {
    this.#link.close();
    this.#changed.abort();
  }

  #restart(): void {
    this.#changed.abort();
    this.#changed = new AbortController();
  }

  /** One request, stream or socket for the current set; an empty set waits for a channel. */
  async #attempt(signal: AbortSignal): Promise<number | null> {
    const changed = this.#changed.signal;
    if (this.#cursors.size === 0) {
      await new Promise<void>((resolve) => {
        changed.addEventListener('abort', () => resolve(), { once: true });
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      return null;
    }
    if (this.#transport === 'websocket') return this.#openSocket(signal);
    const both = AbortSignal.any([signal, changed]);
    try {
      if (this.#transport === 'eventsource') return await this.#stream(both);
      return await this.#poll(both);
    } catch (error) {
      return both.aborted && !signal.aborted ? null : failedRequest(this.#link, error, signal);
    }
  }

  #request(endpoint: string, accept: string, signal: AbortSignal): { channels: string[]; answer: Promise<FeedResponse> } {
    const channels = [...this.#cursors.keys()];
    const url = `${(this.#options.base ?? '.').replace(/\/+$/, '')}/${endpoint}?${this.#query()}`;
    return { channels, answer: this.#fetch!(url, { headers: withToken({ accept }, this.#tokens.token), cache: 'no-store', signal }) };
  }

  #query(): string {
    const name = this.#options.name;
    return name ? `${channelSetQuery(this.#cursors)}&name=${encodeURIComponent(name)}` : channelSetQuery(this.#cursors);
  }

  async #poll(signal: AbortSignal): Promise<number | null> {
    const long = this.#transport === 'longpoll';
    const parked =
      long && this.#link.state === CONNECTING ? setTimeout(() => this.#link.connected(), this.#options.liveAfter ?? 1500) : undefined;
    try {
      const response = await this.#request(long ? 'subscribe' : 'messages', 'application/json', signal).answer;
      if (response.status !== 200) return await failedAnswer(this.#link, response, signal, this.#tokens);
      this.#tokens.accepted();
      const body = await response.text();
      // [protocol] an answer to a set changed meanwhile is dropped whole: the cursors stay, nothing is skipped.
      if (signal.aborted) return null;
      let batches: Map<string, Batch>;
      try {
        batches = decodeChannelBatches(body);
      } catch (error) {
        return this.#link.fail({ status: 200, reason: errorMessage(error) }, null);
      }
      this.#link.succeed();
      for (const [channel, batch] of batches) this.#take(channel, batch);
    } finally {
      clearTimeout(parked);
    }
    if (!long) await this.#link.pause(this.#options.pollInterval ?? 2000);
    return null;
  }

  async #stream(signal: AbortSignal): Promise<number | null> {
    const { channels, answer } = this.#request('events', 'text/event-stream', signal);
    const response = await answer;
    if (response.status !== 200) return await failedAnswer(this.#link, response, signal, this.#tokens);
    if (!response.body) return this.#link.fail({ status: 200, reason: 'not an event stream' }, null);
    this.#tokens.accepted();
    this.#link.connected();
    this.#expired = false;
    await this.#read(response.body, channels, signal);
    if (signal.aborted) return null;
    // [protocol] `event: expired` ends a stream whose token expired: renew it and resume now.
    if (this.#expired && (await this.#tokens.renew())) return null;
    return this.#link.fail({ status: null, reason: this.#expired ? 'token expired' : 'the event stream ended' }, null);
  }

  async #read(body: ByteStream, channels: readonly string[], signal: AbortSignal): Promise<void> {
    const reader = body.getReader();
    const parser = new EventStreamParser((event) => this.#onEvent(event));
    let lastId = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done || signal.aborted) return void reader.cancel().catch(() => undefined);
      if (value) parser.push(value);
      if (parser.lastEventId !== lastId) {
        lastId = parser.lastEventId;
        this.#link.succeed();
        // [protocol] each id holds every channel's position, in the order asked: a position that moved without a message too.
        const positions = decodePositions(lastId, channels.length) ?? [];
        positions.forEach((cursor, i) => {
          if (this.#cursors.has(channels[i]!)) this.#cursors.set(channels[i]!, cursor);
        });
      }
    }
  }

  #onEvent(event: StreamEvent): void {
    if (event.type === 'expired') {
      this.#expired = true;
      return;
    }
    let data: { channel?: unknown; id?: unknown; text?: unknown; time?: unknown; from?: unknown };
    try {
      data = JSON.parse(event.data) as typeof data;
    } catch {
      return;
    }
    if (typeof data.channel !== 'string' || !this.#cursors.has(data.channel)) return;
    if (event.type === 'missed') return call(this.#options.onMissed, data.channel);
    if (typeof data.id === 'string' && typeof data.text === 'string' && typeof data.time === 'number') {
      this.#message(data.channel, withFrom({ id: data.id, text: data.text, time: data.time }, data.from));
    }
  }

  #openSocket(signal: AbortSignal): Promise<number | null> {
    const Socket = this.#options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof Socket !== 'function') throw new TypeError('no WebSocket: pass options.WebSocket');
    const page = (globalThis as { location?: { href?: string } }).location?.href;
    const url = new URL(`${(this.#options.base ?? '.').replace(/\/+$/, '')}/ws?${this.#query()}`, page);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = this.#tokens.token;
    if (token) url.searchParams.set('access_token', token);
    let socket: WebSocketLike;
    try {
      socket = new Socket(url.href);
    } catch (error) {
      return Promise.resolve(failedRequest(this.#link, error, signal));
    }
    return new Promise((resolve) => {
      const finish = (delay: number | null): void => {
        signal.removeEventListener('abort', onAbort);
        socket.onopen = socket.onmessage = socket.onclose = null;
        socket.onerror = ignore;
        if (this.#socket === socket) this.#socket = null;
        resolve(delay);
      };
      const onAbort = (): void => {
        socket.close(1000);
        finish(null);
      };
      signal.addEventListener('abort', onAbort);
      const asked = new Set(this.#cursors.keys());
      let opened = false;
      socket.onopen = () => {
        opened = true;
        this.#tokens.accepted();
        this.#socket = socket;
        this.#link.connected();
        // Channels added or dropped while the socket was connecting.
        for (const [channel, since] of this.#cursors)
          if (!asked.has(channel)) socket.send(JSON.stringify({ type: 'subscribe', channel, since }));
        for (const channel of asked) if (!this.#cursors.has(channel)) socket.send(JSON.stringify({ type: 'unsubscribe', channel }));
      };
      socket.onmessage = (event) => {
        if (this.#frame(event.data)) return;
        // A channel the server cannot follow: start over, with backoff, from the cursors.
        socket.close(1000);
        finish(this.#link.fail({ status: null, reason: 'a channel was refused' }, null));
      };
      // A refused upgrade shows as a close without a status: it may be a token that expired while away.
      // [protocol] 4001: the token expired while connected.
      socket.onclose = (event) => {
        socket.onopen = socket.onmessage = socket.onclose = null;
        if (this.#socket === socket) this.#socket = null;
        void (event.code === TOKEN_EXPIRED || !opened ? this.#tokens.renew() : Promise.resolve(false)).then((renewed) => {
          if (signal.aborted) return;
          finish(renewed ? null : this.#link.fail({ status: null, reason: event.reason || `closed (${event.code})` }, null));
        });
      };
      socket.onerror = ignore;
    });
  }

  /** One server frame; false for an `error` about a channel still followed. */
  #frame(data: unknown): boolean {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(String(data)) as Record<string, unknown>;
    } catch {
      return true;
    }
    const { type, channel, id, text, time, cursor, from } = frame;
    if (typeof channel !== 'string' || !this.#cursors.has(channel)) return true;
    if (type === 'error') return false;
    this.#link.succeed();
    if (type === 'message' && typeof id === 'string' && typeof text === 'string' && typeof time === 'number')
      this.#message(channel, withFrom({ id, text, time }, from));
    // [protocol] a missed frame's cursor is past the messages that follow it: they move the cursor.
    else if (type === 'missed') call(this.#options.onMissed, channel);
    else if ((type === 'cursor' || type === 'subscribed') && typeof cursor === 'string') this.#cursors.set(channel, cursor);
    return true;
  }

  #take(channel: string, batch: Batch): void {
    if (!this.#cursors.has(channel)) return;
    if (batch.missed) call(this.#options.onMissed, channel);
    for (const message of batch.messages) this.#message(channel, message);
    this.#cursors.set(channel, batch.cursor);
  }

  #message(channel: string, message: Message): void {
    this.#cursors.set(channel, message.id);
    if (this.#seen.get(channel)!.add(message.id)) call(this.#options.onMessage, channel, message);
  }
}

function ignore(): void {}

/** The server's close code for a token that expired while connected. */
const TOKEN_EXPIRED = 4001;

/** A message with its author, when the server sent a well-formed one. */
function withFrom(message: Message, from: unknown): Message {
  return isFrom(from) ? { ...message, from } : message;
}
