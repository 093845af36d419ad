/**
 * Hands messages to a feed's listeners: each once (repeats dropped by id),
 * in the order given, a gap reported before what follows it, and nothing
 * after the feed was closed. Every transport delivers through one of these.
 */

import type { Batch, Message } from '../protocol.js';
import { call } from './reconnect.js';
import { RecentIds } from './recent-ids.js';

/** Who hears what a feed delivers. */
export interface DeliveryListeners {
  /** Called once per message, in order. */
  onMessage?: (message: Message) => void;
  /** Called when the server says some messages before the next ones are lost. */
  onMissed?: () => void;
}

/**
 * @example
 * const delivery = new Delivery(options, () => link.state === CLOSED);
 * delivery.batch(decodeBatch(body));
 */
export class Delivery {
  readonly #seen = new RecentIds();
  readonly #onMessage: DeliveryListeners['onMessage'];
  readonly #onMissed: DeliveryListeners['onMissed'];
  readonly #closed: () => boolean;

  /** `closed` says whether the feed was closed, perhaps by a listener in the middle of a batch. */
  constructor(listeners: DeliveryListeners, closed: () => boolean) {
    this.#onMessage = listeners.onMessage;
    this.#onMissed = listeners.onMissed;
    this.#closed = closed;
  }

  /** A message, unless it was delivered already. */
  message(message: Message): void {
    if (!this.#closed() && this.#seen.add(message.id)) call(this.#onMessage, message);
  }

  /** The server says messages were lost here. */
  missed(): void {
    if (!this.#closed()) call(this.#onMissed);
  }

  /** A batch: [protocol] `missed` means a gap before its messages, so it is said before them. */
  batch(batch: Batch): void {
    if (batch.missed) this.missed();
    for (const message of batch.messages) this.message(message);
  }
}
