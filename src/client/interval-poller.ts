/**
 * Interval polling: `GET /messages?since=` every `pollInterval` ms, for
 * networks where a held request does not survive. The next request goes
 * out only after the previous answer, so they never overlap. DOM-free.
 */

import { OLDEST } from '../protocol.js';
import type { Batch } from '../protocol.js';
import { Delivery } from './delivery.js';
import { endpointUrl, failedAnswer, failedRequest, receiveBatch, requireFetch, withToken } from './http-answer.js';
import type { PollFetch } from './http-answer.js';
import type { PollerOptions } from './poller.js';
import { CLOSED, Reconnector } from './reconnect.js';
import type { PollerState } from './reconnect.js';

/** The Poller's options (its `liveAfter` aside) and the interval. */
export interface IntervalPollerOptions extends PollerOptions {
  /** Ms from one answer to the next request. Default 2000. */
  pollInterval?: number;
}

/**
 * Follows one channel by asking for what is new on an interval, until `close()`.
 *
 * @example
 * const feed = new IntervalPoller({ channel: 'news', pollInterval: 5000, onMessage: show });
 */
export class IntervalPoller {
  #cursor: string;
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: PollFetch;
  readonly #interval: number;
  readonly #link: Reconnector;
  readonly #delivery: Delivery;

  constructor(options: IntervalPollerOptions = {}) {
    const interval = options.pollInterval ?? 2000;
    if (!(interval >= 0 && Number.isFinite(interval))) throw new RangeError('pollInterval must be a number of ms');
    this.#url = endpointUrl(options.base, 'messages', options.channel) + '?since=';
    this.#fetch = requireFetch(options.fetch);
    this.#cursor = options.since ?? OLDEST;
    this.#headers = withToken({ accept: 'application/json' }, options.token);
    this.#interval = interval;
    this.#link = new Reconnector(options, (signal) => this.#ask(signal));
    this.#delivery = new Delivery(options, () => this.#link.state === CLOSED);
    this.#link.start();
  }

  /** One of `connecting`, `live`, `reconnecting`, `offline`, `closed`. */
  get state(): PollerState {
    return this.#link.state;
  }

  /** Where the next request resumes. */
  get cursor(): string {
    return this.#cursor;
  }

  /** Aborts the request in flight, clears the interval's timer and stops for good. Idempotent. */
  close(): void {
    this.#link.close();
  }

  /** One request; after an answer, the interval passes before the loop asks again. */
  async #ask(signal: AbortSignal): Promise<number | null> {
    try {
      const response = await this.#fetch(this.#url + encodeURIComponent(this.#cursor), {
        headers: this.#headers,
        cache: 'no-store',
        signal,
      });
      if (response.status !== 200) return await failedAnswer(this.#link, response, signal);
      const failed = await receiveBatch(this.#link, response, signal, this.#take);
      if (failed !== null) return failed;
    } catch (error) {
      return failedRequest(this.#link, error, signal);
    }
    await this.#link.pause(this.#interval);
    return null;
  }

  #take = (batch: Batch): void => {
    this.#cursor = batch.cursor;
    this.#link.succeed();
    this.#delivery.batch(batch);
  };
}
