import type { Waiter } from './hub.js';
import type { Batch } from './protocol.js';

/**
 * What both hubs' subscriptions share: a waiter answered at most once —
 * delivered, released or failed, whichever comes first. Cancelling settles
 * it too (the hub's own part of cancelling stays in the hub).
 */
export class Settled {
  readonly waiter: Waiter;
  #done = false;

  constructor(waiter: Waiter) {
    this.waiter = waiter;
  }

  /** Answered, failed, released or cancelled. */
  get done(): boolean {
    return this.#done;
  }

  /** Marks the subscription answered; false when it already was, or was cancelled. */
  settle(): boolean {
    if (this.#done) return false;
    this.#done = true;
    return true;
  }

  /** Hands `batch` to the waiter unless it was answered already; returns the messages it counts as delivered. */
  deliver(batch: Batch): number {
    if (!this.settle()) return 0;
    return this.waiter.deliver(batch) ?? batch.messages.length;
  }

  /** The hub is closing: the waiter is let go, unless it was answered already. */
  release(): void {
    if (this.settle()) this.waiter.release();
  }

  /** The wait cannot be served, unless it was answered already. */
  fail(error: Error): void {
    if (this.settle()) this.waiter.fail(error);
  }
}

/** Releases each of the subscriptions a closing hub took off a channel. */
export function releaseAll(subscriptions: ReadonlySet<Settled>): void {
  for (const subscription of subscriptions) subscription.release();
}
