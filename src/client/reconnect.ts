/**
 * The lifecycle every feed shares, whatever its transport: the states, the
 * backoff with jitter, the retry timer, `online`/`offline`, an abort signal
 * and an idempotent `close()`. A transport supplies one attempt at a time
 * (one poll, one stream, one socket) and reports through the `Reconnector`
 * how it went; the loop here decides when the next one starts.
 */

import { Backoff, retryAfterMs } from './backoff.js';
import type { BackoffOptions } from './backoff.js';

/** An attempt is out and nothing has succeeded since the start or the last failure. */
export const CONNECTING = 'connecting';
/** The last attempt succeeded; the connection is open or the next poll is parked on the server. */
export const LIVE = 'live';
/** An attempt failed; the next try is at `detail.retryAt`. */
export const RECONNECTING = 'reconnecting';
/** The browser says it has no network; nothing is sent until it is back. */
export const OFFLINE = 'offline';
/** `close()` was called; final. */
export const CLOSED = 'closed';

export type FeedState = typeof CONNECTING | typeof LIVE | typeof RECONNECTING | typeof OFFLINE | typeof CLOSED;

/** Why an attempt failed: `status` is `null` for a network error or an unreadable answer. */
export interface FeedError {
  readonly status: number | null;
  /** The server's one-line reason, the status text, or the network error's message. */
  readonly reason: string;
}

/** What comes with each state change. */
export interface StateDetail {
  /** When the next attempt goes out (ms since the epoch); set only while `reconnecting`. */
  readonly retryAt: number | null;
  /** The last failure since the last success, or `null`. */
  readonly error: FeedError | null;
}

/** Where `online` / `offline` events come from; `window` fits. */
export interface NetworkEvents {
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
}

/** The lifecycle's options; every feed's options include them. The backoff: `retryBase` default 1000 ms, `retryCap` 30000 ms. */
export interface ReconnectOptions extends BackoffOptions {
  /** Called on every state change and every scheduled retry. */
  onState?: (state: FeedState, detail: StateDetail) => void;
  /** Closes the feed when aborted. */
  signal?: AbortSignal;
  /** Source of `online` / `offline`. Default `globalThis` when it is an event target; `null` to ignore. */
  network?: NetworkEvents | null;
  /** Whether the network is up at start. Default `navigator.onLine`, or `true` without a navigator. */
  onLine?: () => boolean;
  /** Default `Date.now`; dates `retryAt` and reads a `Retry-After` date. */
  now?: () => number;
}

/**
 * One attempt of a transport. It ends (soon) when `signal` aborts, and
 * resolves with the delay before the next attempt — what `fail()` returned —
 * or `null` to start the next one at once.
 */
export type Attempt = (signal: AbortSignal) => Promise<number | null>;

const REASON_LIMIT = 200;

/**
 * Runs a transport's attempts in a loop until `close()`.
 *
 * @example
 * const link = new Reconnector(options, (signal) => pollOnce(signal));
 * link.start();
 */
export class Reconnector {
  #state: FeedState;
  readonly #attempt: Attempt;
  readonly #backoff: Backoff;
  readonly #now: () => number;
  readonly #onState: ReconnectOptions['onState'];
  readonly #network: NetworkEvents | null;
  readonly #signal: AbortSignal | undefined;
  /** Failed attempts since the last success. */
  #failures = 0;
  /** Backoff steps taken since the last success; the first gateway failure takes none. */
  #steps = 0;
  #error: FeedError | null = null;
  #controller: AbortController | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | null = null;

  /** Checks the options at once (bad values throw here, never later); nothing is sent until `start()`. */
  constructor(options: ReconnectOptions, attempt: Attempt) {
    this.#backoff = new Backoff(options, { retryBase: 1000, retryCap: 30_000 });
    this.#attempt = attempt;
    this.#now = options.now ?? Date.now;
    this.#onState = options.onState;
    this.#network = options.network === undefined ? globalNetwork() : options.network;
    this.#signal = options.signal;
    this.#state = (options.onLine ?? navigatorOnLine)() ? CONNECTING : OFFLINE;
  }

  /** Starts the first attempt (unless the signal is aborted already). */
  start(): void {
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
  get state(): FeedState {
    return this.#state;
  }

  /** Closed or offline: nothing to send. A method, so TypeScript does not narrow across awaits. */
  idle(): boolean {
    return this.#state === CLOSED || this.#state === OFFLINE;
  }

  /** Aborts the attempt under way, clears every timer and stops for good. Idempotent. */
  close(): void {
    if (this.#state === CLOSED) return;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#network?.removeEventListener('online', this.#onOnline);
    this.#network?.removeEventListener('offline', this.#onOffline);
    this.#halt();
    this.#setState(CLOSED, null);
  }

  /** The server answered as it should: the backoff starts over and the state is `live`. */
  succeed(): void {
    this.#failures = 0;
    this.#steps = 0;
    this.#error = null;
    if (this.#state !== LIVE) this.#setState(LIVE, null);
  }

  /**
   * Connected, but nothing proves the server works yet (a poll parked, a
   * socket just open): `live`, and a gateway dropping it later is routine
   * again, but the backoff steps stay until a real answer, so a server that
   * takes connections only to fail them still backs off.
   */
  connected(): void {
    if (this.#state !== CONNECTING) return;
    this.#failures = 0;
    this.#setState(LIVE, null);
  }

  /** Records a failure; returns the delay before the next attempt, for the attempt to resolve with. */
  fail(error: FeedError, retryAfter: string | null): number {
    this.#error = error;
    const first = this.#failures++ === 0;
    // [protocol] a gateway dropping an idle long poll is routine: come back at once, but only once in a row.
    if (first && (error.status === 502 || error.status === 504)) return 0;
    return this.#backoff.delay(this.#steps++, retryAfterMs(retryAfter, this.#now()));
  }

  /** Waits `ms` without changing state; cut short by `close()`, going offline or coming online. */
  pause(ms: number): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    }).then(() => {
      this.#timer = undefined;
      this.#wake = null;
    });
  }

  // A loop, not recursion: a long session must not grow a promise chain.
  async #loop(): Promise<void> {
    while (this.#state !== CLOSED) {
      if (this.#state === OFFLINE) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      const delay = await this.#run();
      // The attempt may have ended in a feed closed or gone offline meanwhile.
      if (delay === null || this.idle()) continue;
      this.#setState(RECONNECTING, this.#now() + delay);
      await this.pause(delay);
      if (this.#state === RECONNECTING) this.#setState(CONNECTING, null);
    }
  }

  async #run(): Promise<number | null> {
    const controller = new AbortController();
    this.#controller = controller;
    try {
      return await this.#attempt(controller.signal);
    } catch (error) {
      // Transports report their own failures; this is a bug's last line of defence, still retried.
      return controller.signal.aborted ? null : this.fail({ status: null, reason: errorMessage(error) }, null);
    } finally {
      if (this.#controller === controller) this.#controller = null;
    }
  }

  /** Stops what is going on: the attempt under way and the retry timer. */
  #halt(): void {
    this.#controller?.abort();
    this.#controller = null;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #setState(state: FeedState, retryAt: number | null): void {
    this.#state = state;
    call(this.#onState, state, { retryAt, error: this.#error });
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
export function call<A extends unknown[]>(listener: ((...args: A) => void) | undefined, ...args: A): void {
  if (!listener) return;
  try {
    listener(...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** An error's message, bounded, for the state detail. */
export function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, REASON_LIMIT) || 'network error';
}

function globalNetwork(): NetworkEvents | null {
  // Through `object`: under Node's types `globalThis` shares no member with NetworkEvents, which TypeScript refuses.
  const target: Partial<NetworkEvents> = globalThis as object;
  return typeof target.addEventListener === 'function' && typeof target.removeEventListener === 'function'
    ? (target as NetworkEvents)
    : null;
}

function navigatorOnLine(): boolean {
  const nav: { onLine?: boolean } | undefined = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
  return nav?.onLine !== false;
}
