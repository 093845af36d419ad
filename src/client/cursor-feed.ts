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
import { TokenSource } from './token-source.js';
import type { GetToken } from './token-source.js';
import type { FeedState, ReconnectOptions } from './reconnect.js';

/** The options every feed reads here. */
export interface CursorFeedOptions extends ReconnectOptions, DeliveryListeners {
  /** Cursor to start from. Default `OLDEST` (`'0'`): the history first. */
  since?: string;
  /** Bearer token, for a server that wants one. Default none. */
  token?: string;
  /**
   * Called for a fresh token when the server refuses the one held (it
   * expired): the feed then resumes from its cursor. Default none: a refusal
   * is a failure like any other.
   */
  getToken?: GetToken;
  /** A display name to be listed under in `/presence` (`?name=`; a verified token's identity wins). Default none. */
  name?: string;
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
  /** The token presented, renewed through `getToken`. */
  protected readonly tokens: TokenSource;

  constructor(options: CursorFeedOptions) {
    this.#cursor = options.since ?? OLDEST;
    this.tokens = new TokenSource(options.token, options.getToken);
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
    this.tokens.accepted();
    this.link.succeed();
    this.delivery.batch(batch);
  };
}
