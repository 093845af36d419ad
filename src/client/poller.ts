/**
 * The long-poll loop of the browser client, free of the DOM so that it runs
 * under tap in Node with a fake `fetch`. One `Poller` follows one channel:
 * it loads the history (`since=0`), then resumes from each batch's cursor,
 * delivers every message once and in order, and retries with backoff (the
 * `Reconnector` it shares with the other transports).
 */

import { HEADER, OLDEST } from '../protocol.js';
import type { Batch } from '../protocol.js';
import { Delivery } from './delivery.js';
import type { DeliveryListeners } from './delivery.js';
import { endpointUrl, failedAnswer, failedRequest, receiveBatch, requireFetch, withToken } from './http-answer.js';
import type { PollFetch } from './http-answer.js';
import { CLOSED, CONNECTING, Reconnector } from './reconnect.js';
import type { PollerState, ReconnectOptions } from './reconnect.js';

export { CLOSED, CONNECTING, LIVE, OFFLINE, RECONNECTING } from './reconnect.js';
export type { NetworkEvents, PollError, PollerState, StateDetail } from './reconnect.js';
export { withToken } from './http-answer.js';
export type { PollFetch, PollResponse } from './http-answer.js';

/** The options of every feed: where, what, the listeners and the backoff (see `ReconnectOptions`). */
export interface PollerOptions extends ReconnectOptions, DeliveryListeners {
  /** Server root the paths hang off, without a trailing slash. Default `'.'` (the page's directory). */
  base?: string;
  /** Channel to follow, `[A-Za-z0-9_-]{1,64}`. Default `'default'` (the bare `/subscribe`). */
  channel?: string;
  /** Bearer token, for a server started with `--subscribe-token`. Default none. */
  token?: string;
  /** Cursor to start from. Default `OLDEST` (`'0'`): the history first. */
  since?: string;
  /**
   * A poll still open after this many ms counts as `live`: the server has taken it and parked it.
   * Without this an idle channel would look `connecting` until the poll timeout. Default 1500.
   */
  liveAfter?: number;
  /** Default `globalThis.fetch`. */
  fetch?: PollFetch;
}

/**
 * Follows one channel by long polling until `close()`.
 *
 * @example
 * const poller = new Poller({ channel: 'news', onMessage: (m) => console.log(m.text) });
 * // later
 * poller.close();
 */
export class Poller {
  #cursor: string;
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: PollFetch;
  readonly #liveAfter: number;
  readonly #link: Reconnector;
  readonly #delivery: Delivery;

  constructor(options: PollerOptions = {}) {
    const liveAfter = options.liveAfter ?? 1500;
    if (!(liveAfter >= 0)) throw new RangeError('liveAfter must be a number of ms');
    this.#url = endpointUrl(options.base, 'subscribe', options.channel) + '?since=';
    this.#fetch = requireFetch(options.fetch);
    this.#cursor = options.since ?? OLDEST;
    this.#headers = withToken({ accept: 'application/json' }, options.token);
    this.#liveAfter = liveAfter;
    this.#link = new Reconnector(options, (signal) => this.#poll(signal));
    this.#delivery = new Delivery(options, () => this.#link.state === CLOSED);
    this.#link.start();
  }

  /** One of `connecting`, `live`, `reconnecting`, `offline`, `closed`. */
  get state(): PollerState {
    return this.#link.state;
  }

  /** Where the next poll resumes; hand it to a new poller as `since` to carry on. */
  get cursor(): string {
    return this.#cursor;
  }

  /** Aborts the poll in flight, clears the retry timer and stops for good. Idempotent. */
  close(): void {
    this.#link.close();
  }

  /** Sends one poll and handles its answer; returns the delay before a retry, or `null` to poll again now. */
  async #poll(signal: AbortSignal): Promise<number | null> {
    // [protocol] a parked poll sends nothing until it ends, so its lasting is the only sign that it was taken.
    const parked = this.#link.state === CONNECTING ? setTimeout(() => this.#link.connected(), this.#liveAfter) : undefined;
    try {
      const response = await this.#fetch(this.#url + encodeURIComponent(this.#cursor), {
        headers: this.#headers,
        cache: 'no-store',
        signal,
      });
      if (response.status === 200) return await receiveBatch(this.#link, response, signal, this.#take);
      if (response.status === 204) {
        if (signal.aborted) return null;
        // [protocol] an empty answer after the poll timeout; the cursor may have moved (e.g. history trimmed).
        this.#cursor = response.headers.get(HEADER.cursor) ?? this.#cursor;
        this.#link.succeed();
        return null;
      }
      return await failedAnswer(this.#link, response, signal);
    } catch (error) {
      return failedRequest(this.#link, error, signal);
    } finally {
      clearTimeout(parked);
    }
  }

  #take = (batch: Batch): void => {
    this.#cursor = batch.cursor;
    this.#link.succeed();
    this.#delivery.batch(batch);
  };
}
