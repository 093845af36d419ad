import type { Hub, Subscription, Waiter } from '../hub.js';
import type { Batch } from '../protocol.js';

/**
 * One wait over a set of channels, for a multi-channel long poll: a waiter
 * parked on each channel of the set, answered together as soon as one of
 * them has news. Every channel's answer carries a batch: its messages, or
 * an empty batch with the position it waited from, so the client resumes
 * every channel without a gap.
 */
export interface SetWaiter {
  /** News on at least one channel: a batch for every channel of the set, in its order. */
  deliver(batches: ReadonlyMap<string, Batch>): void;
  /** The hub is closing. */
  release(): void;
  /** One channel's wait could not be set up (bad cursor, storage down, no room): the whole wait ends. */
  fail(error: Error): void;
}

/**
 * One channel of a set: a `Waiter` for the hub that reports to its set. A
 * class rather than closures, so a wait over n channels allocates n small
 * objects and nothing per message.
 */
class Part implements Waiter {
  readonly set: SetWait;
  readonly channel: string;
  subscription: Subscription | undefined;
  batch: Batch | undefined;

  constructor(set: SetWait, channel: string) {
    this.set = set;
    this.channel = channel;
  }

  deliver(batch: Batch): number {
    this.batch = batch;
    this.set.ready();
    return batch.messages.length;
  }

  release(): void {
    this.set.released();
  }

  fail(error: Error): void {
    this.set.failed(error);
  }

  started(): void {
    this.set.ready();
  }

  /** The position this channel's answer carries, once known. */
  get cursor(): string | undefined {
    return this.batch?.cursor ?? this.subscription?.cursor;
  }
}

/**
 * The wait itself. It answers once: after the first delivery, as soon as
 * every channel's position is known (a hub that asks its storage first
 * learns it only later), gathering what else arrived meanwhile; or on
 * `expire()`, `release` or `fail`. Every channel not answered is cancelled
 * then, and `cancel()` ends them all, so no waiter outlives the wait.
 */
export class SetWait {
  readonly #parts: Part[];
  readonly #waiter: SetWaiter;
  #done = false;
  #pending = false;

  constructor(channels: readonly string[], waiter: SetWaiter) {
    this.#parts = channels.map((channel) => new Part(this, channel));
    this.#waiter = waiter;
  }

  /**
   * Parks a waiter on every channel. Throws what `hub.subscribe` throws (a
   * bad cursor, no room), after cancelling the channels already parked.
   */
  start(hub: Hub, since: ReadonlyMap<string, string>): void {
    try {
      for (const part of this.#parts) part.subscription = hub.subscribe(part.channel, since.get(part.channel), part);
    } catch (error) {
      this.cancel();
      throw error;
    }
  }

  /** Stops every channel's wait; nothing is called after this. Idempotent. */
  cancel(): void {
    this.#done = true;
    for (const part of this.#parts) part.subscription?.cancel();
  }

  /**
   * Time is up: answers with what there is (empty batches at each
   * channel's position) and returns true, or returns false, answering
   * nothing, when some channel's position is still unknown.
   */
  expire(): boolean {
    if (this.#done) return true;
    this.cancel();
    if (!this.#parts.every((part) => part.cursor !== undefined)) return false;
    this.#waiter.deliver(this.#batches());
    return true;
  }

  /** @internal a channel delivered, or learnt its position. */
  ready(): void {
    if (this.#done || this.#pending || !this.#parts.some((part) => part.batch)) return;
    // Batches that are ready at once come in microtasks queued by subscribe(): wait for
    // them all, so a poll over several channels with news answers them together.
    this.#pending = true;
    queueMicrotask(() => {
      this.#pending = false;
      if (this.#done || !this.#parts.every((part) => part.cursor !== undefined)) return;
      this.cancel();
      this.#waiter.deliver(this.#batches());
    });
  }

  /** @internal */
  released(): void {
    if (this.#done) return;
    this.cancel();
    this.#waiter.release();
  }

  /** @internal */
  failed(error: Error): void {
    if (this.#done) return;
    this.cancel();
    this.#waiter.fail(error);
  }

  #batches(): Map<string, Batch> {
    const batches = new Map<string, Batch>();
    for (const part of this.#parts) batches.set(part.channel, part.batch ?? { messages: [], missed: false, cursor: part.cursor! });
    return batches;
  }
}
