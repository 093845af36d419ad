/**
 * The long-poll loop of the browser client, free of the DOM so that it runs
 * under tap in Node with a fake `fetch`. One `Poller` follows one channel:
 * it loads the history (`since=0`), then resumes from each batch's cursor,
 * delivers every message once and in order, and retries with backoff.
 */

import { CHANNEL_NAME, DEFAULT_CHANNEL, HEADER, OLDEST, decodeBatch } from '../protocol.js';
import type { Message } from '../protocol.js';
import { RecentIds } from './recent-ids.js';

/** A poll is out and nothing has succeeded since the start or the last failure. */
export const CONNECTING = 'connecting';
/** The last poll succeeded; the next one is parked on the server. */
export const LIVE = 'live';
/** A poll failed; the next try is at `detail.retryAt`. */
export const RECONNECTING = 'reconnecting';
/** The browser says it has no network; nothing is sent until it is back. */
export const OFFLINE = 'offline';
/** `close()` was called; final. */
export const CLOSED = 'closed';

export type PollerState = typeof CONNECTING | typeof LIVE | typeof RECONNECTING | typeof OFFLINE | typeof CLOSED;

/** Why a poll failed: `status` is `null` for a network error or an unreadable answer. */
export interface PollError {
  readonly status: number | null;
  /** The server's one-line reason, the status text, or the network error's message. */
  readonly reason: string;
}

/** What comes with each state change. */
export interface StateDetail {
  /** When the next poll goes out (ms since the epoch); set only while `reconnecting`. */
  readonly retryAt: number | null;
  /** The last failure since the last success, or `null`. */
  readonly error: PollError | null;
}

/** The part of a `fetch` response the poller reads; a real `Response` fits. */
export interface PollResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** What the poller asks `fetch` for; the global `fetch` fits. */
export type PollFetch = (url: string, init: {
  headers: Record<string, string>;
  cache: 'no-store';
  signal: AbortSignal;
}) => Promise<PollResponse>;

/** Where `online` / `offline` events come from; `window` fits. */
export interface NetworkEvents {
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
}

export interface PollerOptions {
  /** Server root the paths hang off, without a trailing slash. Default `'.'` (the page's directory). */
  base?: string;
  /** Channel to follow, `[A-Za-z0-9_-]{1,64}`. Default `'default'` (the bare `/subscribe`). */
  channel?: string;
  /** Bearer token, for a server started with `--subscribe-token`. Default none. */
  token?: string;
  /** Cursor to start from. Default `OLDEST` (`'0'`): the history first. */
  since?: string;
  /** Called once per message, in order. */
  onMessage?: (message: Message) => void;
  /** Called when the server says some messages before the next ones are lost. */
  onMissed?: () => void;
  /** Called on every state change and every scheduled retry. */
  onState?: (state: PollerState, detail: StateDetail) => void;
  /** Closes the poller when aborted. */
  signal?: AbortSignal;
  /** First backoff delay in ms. Default 1000. */
  retryBase?: number;
  /** Longest backoff delay in ms. Default 30000. */
  retryCap?: number;
  /**
   * A poll still open after this many ms counts as `live`: the server has taken it and parked it.
   * Without this an idle channel would look `connecting` until the poll timeout. Default 1500.
   */
  liveAfter?: number;
  /** Default `globalThis.fetch`. */
  fetch?: PollFetch;
  /** Source of `online` / `offline`. Default `globalThis` when it is an event target; `null` to ignore. */
  network?: NetworkEvents | null;
  /** Whether the network is up at start. Default `navigator.onLine`, or `true` without a navigator. */
  onLine?: () => boolean;
  /** Default `Math.random`; only spreads retries. */
  random?: () => number;
  /** Default `Date.now`; only dates `retryAt`. */
  now?: () => number;
}

/** Retries are spread over the last quarter of each backoff step, so clients do not return in step. */
const JITTER = 0.25;
const REASON_LIMIT = 200;
/** Reasons for a bodiless error: HTTP/2 sends no status text. */
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

const DEFAULTS = {
  base: '.',
  channel: DEFAULT_CHANNEL,
  since: OLDEST,
  retryBase: 1000,
  retryCap: 30_000,
  liveAfter: 1500,
  random: Math.random,
  now: Date.now,
};

/**
 * Follows one channel by long polling until `close()`.
 *
 * @example
 * const poller = new Poller({ channel: 'news', onMessage: (m) => console.log(m.text) });
 * // later
 * poller.close();
 */
export class Poller {
  #state: PollerState;
  #cursor: string;
  #url: string;
  #headers: Record<string, string>;
  #fetch: PollFetch;
  #options: Required<Pick<PollerOptions, 'retryBase' | 'retryCap' | 'liveAfter' | 'random' | 'now'>>;
  #listeners: Pick<PollerOptions, 'onMessage' | 'onMissed' | 'onState'>;
  #network: NetworkEvents | null;
  #signal: AbortSignal | undefined;
  #seen = new RecentIds();
  /** Failed polls since the last success. */
  #failures = 0;
  /** Backoff steps taken since the last success; the first gateway failure takes none. */
  #steps = 0;
  #error: PollError | null = null;
  #controller: AbortController | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | null = null;

  constructor(options: PollerOptions = {}) {
    const { base, channel, since, retryBase, retryCap, liveAfter, random, now } = { ...DEFAULTS, ...defined(options) };
    if (!CHANNEL_NAME.test(channel)) throw new TypeError(`invalid channel name: ${JSON.stringify(channel)}`);
    if (!(retryBase > 0 && Number.isFinite(retryBase))) throw new RangeError('retryBase must be a positive number of ms');
    if (!(retryCap >= retryBase && Number.isFinite(retryCap))) throw new RangeError('retryCap must be at least retryBase');
    if (!(liveAfter >= 0)) throw new RangeError('liveAfter must be a number of ms');
    const fetcher = options.fetch ?? globalFetch();
    if (typeof fetcher !== 'function') throw new TypeError('no fetch: pass options.fetch');

    const path = channel === DEFAULT_CHANNEL ? '/subscribe' : `/subscribe/${channel}`;
    this.#url = base.replace(/\/+$/, '') + path + '?since=';
    this.#cursor = since;
    this.#headers = withToken({ accept: 'application/json' }, options.token);
    this.#fetch = fetcher;
    this.#options = { retryBase, retryCap, liveAfter, random, now };
    this.#listeners = { onMessage: options.onMessage, onMissed: options.onMissed, onState: options.onState };
    this.#network = options.network === undefined ? globalNetwork() : options.network;
    this.#signal = options.signal;
    this.#state = (options.onLine ?? navigatorOnLine)() ? CONNECTING : OFFLINE;

    if (this.#signal?.aborted) {
      this.#state = CLOSED;
      return;
    }
    this.#signal?.addEventListener('abort', this.#onAbort);
    this.#network?.addEventListener('online', this.#onOnline);
    this.#network?.addEventListener('offline', this.#onOffline);
    void this.#loop();
  }

  /** One of `connecting`, `live`, `reconnecting`, `offline`, `closed`. */
  get state(): PollerState {
    return this.#state;
  }

  /** Where the next poll resumes; hand it to a new poller as `since` to carry on. */
  get cursor(): string {
    return this.#cursor;
  }

  /** Aborts the poll in flight, clears the retry timer and stops for good. Idempotent. */
  close(): void {
    if (this.#state === CLOSED) return;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#network?.removeEventListener('online', this.#onOnline);
    this.#network?.removeEventListener('offline', this.#onOffline);
    this.#halt();
    this.#setState(CLOSED, null);
  }

  // A loop, not recursion: a long session must not grow a promise chain.
  async #loop(): Promise<void> {
    while (this.#state !== CLOSED) {
      if (this.#state === OFFLINE) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      const delay = await this.#poll();
      // The answer may have come back to a poller closed or gone offline meanwhile.
      if (delay === null || this.#idle()) continue;
      this.#setState(RECONNECTING, this.#options.now() + delay);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, delay);
      });
      this.#timer = undefined;
      this.#wake = null;
      if (this.#state === RECONNECTING) this.#setState(CONNECTING, null);
    }
  }

  /** Closed or offline: nothing to send. A method, so TypeScript does not narrow across awaits. */
  #idle(): boolean {
    return this.#state === CLOSED || this.#state === OFFLINE;
  }

  /** Sends one poll and handles its answer; returns the delay before a retry, or `null` to poll again now. */
  async #poll(): Promise<number | null> {
    const controller = new AbortController();
    this.#controller = controller;
    // [protocol] a parked poll sends nothing until it ends, so its lasting is the only sign that it was taken.
    const parked = this.#state === CONNECTING ? setTimeout(this.#onParked, this.#options.liveAfter) : undefined;
    try {
      const response = await this.#fetch(this.#url + encodeURIComponent(this.#cursor), {
        headers: this.#headers,
        cache: 'no-store',
        signal: controller.signal,
      });
      const status = response.status;
      if (status === 200) {
        const text = await response.text();
        if (controller.signal.aborted) return null;
        return this.#deliver(text);
      }
      if (status === 204) {
        if (controller.signal.aborted) return null;
        // [protocol] an empty answer after the poll timeout; the cursor may have moved (e.g. history trimmed).
        this.#cursor = response.headers.get(HEADER.cursor) ?? this.#cursor;
        this.#succeed();
        return null;
      }
      const reason = await errorReason(response);
      if (controller.signal.aborted) return null;
      return this.#fail({ status, reason }, response.headers.get('retry-after'));
    } catch (error) {
      // close() and going offline abort on purpose: not a failure.
      if (controller.signal.aborted) return null;
      return this.#fail({ status: null, reason: errorMessage(error) }, null);
    } finally {
      clearTimeout(parked);
      if (this.#controller === controller) this.#controller = null;
    }
  }

  // Taken by the server: a gateway that later drops this idle poll is routine again, not a failure in a row.
  // The backoff steps stay until a real answer, so a server that takes polls but fails them still backs off.
  #onParked = (): void => {
    if (this.#state !== CONNECTING) return;
    this.#failures = 0;
    this.#setState(LIVE, null);
  };

  #deliver(body: string): number | null {
    let batch;
    try {
      batch = decodeBatch(body);
    } catch (error) {
      // A proxy's HTML page or a cut-off body: the cursor stays, so nothing is skipped.
      return this.#fail({ status: 200, reason: errorMessage(error) }, null);
    }
    this.#cursor = batch.cursor;
    this.#succeed();
    // [protocol] `missed` means a gap before these messages, so say so before showing them.
    if (batch.missed && this.#state !== CLOSED) call(this.#listeners.onMissed);
    for (const message of batch.messages) {
      if (this.#state === CLOSED) break;
      if (this.#seen.add(message.id)) call(this.#listeners.onMessage, message);
    }
    return null;
  }

  #succeed(): void {
    this.#failures = 0;
    this.#steps = 0;
    this.#error = null;
    if (this.#state !== LIVE) this.#setState(LIVE, null);
  }

  #fail(error: PollError, retryAfter: string | null): number {
    this.#error = error;
    const first = this.#failures++ === 0;
    // [protocol] a gateway dropping an idle long poll is routine: come back at once, but only once in a row.
    if (first && (error.status === 502 || error.status === 504)) return 0;
    const { retryBase, retryCap, random, now } = this.#options;
    const step = Math.min(retryCap, retryBase * 2 ** this.#steps++);
    const delay = Math.round(step * (1 - JITTER * random()));
    return Math.max(delay, Math.min(retryCap, retryAfterMs(retryAfter, now())));
  }

  /** Stops what is going on: the poll in flight and the retry timer. */
  #halt(): void {
    this.#controller?.abort();
    this.#controller = null;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #setState(state: PollerState, retryAt: number | null): void {
    this.#state = state;
    call(this.#listeners.onState, state, { retryAt, error: this.#error });
  }

  #onAbort = (): void => this.close();

  #onOffline = (): void => {
    if (this.#state === CLOSED || this.#state === OFFLINE) return;
    this.#setState(OFFLINE, null);
    this.#halt();
  };

  // Back online, or a hint that it might be: do not sit out the rest of a backoff.
  #onOnline = (): void => {
    if (this.#state !== OFFLINE && this.#state !== RECONNECTING) return;
    this.#steps = 0;
    this.#setState(CONNECTING, null);
    this.#halt();
  };
}

/** Calls a listener; its exception is reported like an event handler's and does not stop the loop. */
function call<A extends unknown[]>(listener: ((...args: A) => void) | undefined, ...args: A): void {
  if (!listener) return;
  try {
    listener(...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** The first line of an error body, or the status text: servers answer errors with one line of text. */
async function errorReason(response: PollResponse): Promise<string> {
  let body = '';
  try {
    body = await response.text();
  } catch {
    // An unreadable body still leaves the status to report.
  }
  const line = body.split(/\r?\n/, 1)[0]?.trim() ?? '';
  return (line || response.statusText || STATUS_TEXT[response.status] || 'HTTP error').slice(0, REASON_LIMIT);
}

function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, REASON_LIMIT) || 'network error';
}

/** `Retry-After` as ms from now: delta-seconds or an HTTP date; 0 when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number {
  if (value === null) return 0;
  const seconds = Number(value.trim());
  if (value.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? 0 : Math.max(0, date - now);
}

/** Adds `Authorization: Bearer <token>` when there is a token. */
export function withToken(headers: Record<string, string>, token: string | undefined): Record<string, string> {
  return token ? { ...headers, authorization: `Bearer ${token}` } : headers;
}

function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function globalFetch(): PollFetch | undefined {
  return typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined;
}

function globalNetwork(): NetworkEvents | null {
  // Through `object`: under Node's types `globalThis` shares no member with NetworkEvents, which TypeScript refuses.
  const target: Partial<NetworkEvents> = globalThis as object;
  return typeof target.addEventListener === 'function' && typeof target.removeEventListener === 'function' ? target as NetworkEvents : null;
}

function navigatorOnLine(): boolean {
  const nav: { onLine?: boolean } | undefined = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
  return nav?.onLine !== false;
}
