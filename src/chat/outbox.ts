/**
 * The lines waiting to be published, sent one at a time in the order typed.
 * Each line gets its `Idempotency-Key` once, and every retry reuses it, so a
 * line whose answer was lost is stored once; network errors, 5xx, 408 and
 * 429 are retried with backoff (at least `Retry-After`) until the server
 * accepts, while a refusal (any other 4xx) drops that line alone.
 */

import { publishOnce, uuid } from '../client/publish.js';
import type { PublishFetch } from '../client/publish.js';
import { Backoff } from '../client/backoff.js';
import type { BackoffOptions } from '../client/backoff.js';

/** Where and how to publish; the backoff's `retryBase` defaults to 500 ms and `retryCap` to 10000 ms. */
export interface OutboxOptions extends BackoffOptions {
  /** The publish URL (`publishUrl(base, channel)`). */
  url: string;
  /** Bearer token for `--publish-token` servers. Default none. */
  token?: string;
  /** Display name every line is published under (`Pollcast-Name`). Default none. */
  name?: string;
  /** Default `globalThis.fetch`. */
  fetch?: PublishFetch;
  /** How long one attempt may wait for its answer, in ms. Default 15000. */
  timeout?: number;
  /** The server refused a line for good; it is dropped and the next one goes. */
  onRefused?: (text: string, problem: string) => void;
  /** An attempt failed; the same line goes again after `delay` ms. */
  onRetry?: (text: string, problem: string, delay: number) => void;
}

interface Entry {
  readonly text: string;
  readonly key: string;
}

/**
 * Publishes lines in order, each exactly once.
 *
 * @example
 * const outbox = new Outbox({ url: 'http://127.0.0.1:8080/publish' });
 * outbox.push('hello');
 * await outbox.drain(10_000); // true once the server took it
 */
export class Outbox {
  #queue: Entry[] = [];
  /** The options with every default filled in; only the token and the listeners may stay unset. */
  #options: OutboxOptions & Required<Pick<OutboxOptions, 'fetch' | 'timeout'>>;
  readonly #backoff: Backoff;
  #sending = false;
  #closed = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | null = null;
  /** Called each time the queue runs empty. */
  #emptied = new Set<() => void>();

  constructor(options: OutboxOptions) {
    this.#options = {
      ...options,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      timeout: options.timeout ?? 15_000,
    };
    if (!(this.#options.timeout > 0)) throw new RangeError('timeout must be a positive number of ms');
    this.#backoff = new Backoff(options, { retryBase: 500, retryCap: 10_000 });
  }

  /** Lines not yet accepted, the one in flight included. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Queues a line; it goes once every line before it is accepted or refused. */
  push(text: string): void {
    if (this.#closed.signal.aborted) throw new Error('the outbox is closed');
    this.#queue.push({ text, key: uuid() });
    void this.#pump();
  }

  /** Resolves `true` once every queued line is accepted or refused, `false` if that takes over `timeout` ms. */
  drain(timeout: number): Promise<boolean> {
    if (this.#queue.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (result: boolean): void => {
        clearTimeout(timer);
        this.#emptied.delete(emptied);
        resolve(result);
      };
      const emptied = (): void => done(true);
      const timer = setTimeout(() => done(false), timeout);
      this.#emptied.add(emptied);
    });
  }

  /** Abandons the attempt in flight and the retry timer; queued lines are dropped. Idempotent. */
  close(): void {
    this.#closed.abort();
    this.#queue.length = 0;
    clearTimeout(this.#timer);
    this.#wake?.();
  }

  // A loop, one line in flight: sending the next before this one is in would reorder them.
  async #pump(): Promise<void> {
    if (this.#sending) return;
    this.#sending = true;
    let steps = 0;
    for (let entry = this.#queue[0]; entry && !this.#closed.signal.aborted; entry = this.#queue[0]) {
      const { url, token, name, timeout, fetch } = this.#options;
      const outcome = await publishOnce({
        url,
        text: entry.text,
        key: entry.key,
        token,
        name,
        timeout,
        fetch,
        signal: this.#closed.signal,
      });
      if (this.#closed.signal.aborted) break;
      if (outcome.ok || outcome.final) {
        this.#queue.shift();
        steps = 0;
        if (!outcome.ok) this.#options.onRefused?.(entry.text, outcome.problem);
        continue;
      }
      const delay = this.#backoff.delay(steps++, outcome.retryAfter);
      this.#options.onRetry?.(entry.text, outcome.problem, delay);
      await this.#sleep(delay);
    }
    this.#sending = false;
    if (this.#queue.length === 0) for (const emptied of [...this.#emptied]) emptied();
  }

  async #sleep(delay: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, delay);
    });
    this.#wake = null;
    this.#timer = undefined;
  }
}
