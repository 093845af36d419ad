/**
 * Exponential backoff with jitter, the one rule every retry of the client
 * follows: the feeds' reconnects (`Reconnector`) and the chat's publishing
 * (`Outbox`). Each step doubles from `retryBase` up to `retryCap`, and a
 * server's `Retry-After` is a floor (itself capped).
 */

/** Retries are spread over the last quarter of each backoff step, so clients do not return in step. */
const JITTER = 0.25;

/** The backoff's options; each user gives its own defaults. */
export interface BackoffOptions {
  /** First backoff delay in ms. */
  retryBase?: number;
  /** Longest backoff delay in ms. */
  retryCap?: number;
  /** Default `Math.random`; only spreads retries. */
  random?: () => number;
}

/**
 * The delays of a retry loop. The caller counts the steps (and starts over
 * on success); `delay(step)` is pure but for the jitter.
 *
 * @example
 * const backoff = new Backoff(options, { retryBase: 1000, retryCap: 30_000 });
 * const wait = backoff.delay(failures++, retryAfterMs(response.headers.get('retry-after'), Date.now()));
 */
export class Backoff {
  /** Longest delay in ms. */
  readonly cap: number;
  readonly #base: number;
  readonly #random: () => number;

  /** Checks the options at once: bad values throw a `RangeError` here, never later. */
  constructor(options: BackoffOptions, defaults: { retryBase: number; retryCap: number }) {
    const base = options.retryBase ?? defaults.retryBase;
    const cap = options.retryCap ?? defaults.retryCap;
    if (!(base > 0 && Number.isFinite(base))) throw new RangeError('retryBase must be a positive number of ms');
    if (!(cap >= base && Number.isFinite(cap))) throw new RangeError('retryCap must be at least retryBase');
    this.#base = base;
    this.cap = cap;
    this.#random = options.random ?? Math.random;
  }

  /** The wait before retry number `step` (from 0), in ms; at least what `retryAfter` (ms) asks, within the cap. */
  delay(step: number, retryAfter = 0): number {
    const full = Math.min(this.cap, this.#base * 2 ** step);
    return Math.max(Math.round(full * (1 - JITTER * this.#random())), Math.min(this.cap, retryAfter));
  }
}

/** `Retry-After` as ms from now: delta-seconds or an HTTP date; 0 when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number {
  if (value === null) return 0;
  const seconds = Number(value.trim());
  if (value.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? 0 : Math.max(0, date - now);
}
