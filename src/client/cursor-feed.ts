/**
 * What every feed is, whatever its transport: a cursor to resume from, the
 * `Reconnector` that runs its attempts, and the `Delivery` that hands on its
 * messages. Each transport extends it with its one attempt.
 */

import { OLDEST } from '../protocol.js';
import type { Batch } from '../protocol.js';
import { Delivery } from './delivery.js';
import type { DeliveryListeners } from './delivery.js';
import { CLOSED, Reconnector } from './reconnect.js';
import type { FeedState, ReconnectOptions } from './reconnect.js';

/** The options every feed reads here. */
export interface CursorFeedOptions extends ReconnectOptions, DeliveryListeners {
  /** Cursor to start from. Default `OLDEST` (`'0'`): the history first. */
  since?: string;
}

/**
 * A feed; subclasses implement `attempt()` and call `start()` at the end of
 * their constructor, once their own fields are set.
 */
export abstract class CursorFeed {
  #cursor: string;
  /** The lifecycle: states, backoff, timers. */
  protected readonly link: Reconnector;
  /** Hands messages on, once each. */
  protected readonly delivery: Delivery;

  constructor(options: CursorFeedOptions) {
    this.#cursor = options.since ?? OLDEST;
    this.link = new Reconnector(options, (signal) => this.attempt(signal));
    this.delivery = new Delivery(options, () => this.link.state === CLOSED);
  }

  /** One of `connecting`, `live`, `reconnecting`, `offline`, `closed`. */
  get state(): FeedState {
    return this.link.state;
  }

  /** Where the feed resumes; hand it to a new feed as `since` to carry on. */
  get cursor(): string {
    return this.#cursor;
  }

  /** Aborts the request or closes the socket, clears every timer, stops for good. Idempotent. */
  close(): void {
    this.link.close();
  }

  /** One poll, stream or socket (see `Attempt`). */
  protected abstract attempt(signal: AbortSignal): Promise<number | null>;

  protected start(): void {
    this.link.start();
  }

  protected moveTo(cursor: string): void {
    this.#cursor = cursor;
  }

  /** A batch answered: resume after it, count the success, hand its messages on. */
  protected take = (batch: Batch): void => {
    this.#cursor = batch.cursor;
    this.link.succeed();
    this.delivery.batch(batch);
  };
}
