import type { Batch } from '../protocol.js';
import { atTurnEnd } from '../turn.js';

/** A stream that writes once per turn of the event loop: what became ready for it meanwhile, in one go. */
export interface Flushing {
  flush(): void;
}

/**
 * One server's write turn. A stream handed messages does not write at once:
 * it asks to be flushed, and at the end of the turn (`atTurnEnd`: after the
 * publishes of one read of the sockets are all handled, and after the hub
 * woke its waiters with them) every stream that asked is flushed. So a burst
 * costs each connection one write, not one per message. A stream asks once
 * per turn (it keeps its own flag, cleared by `flush()`); one that asks while
 * the turn is flushed is flushed in the same go.
 */
export class Flusher {
  #due: Flushing[] = [];
  #scheduled = false;
  readonly #run = (): void => {
    const due = this.#due;
    this.#due = [];
    this.#scheduled = false;
    for (const member of due) member.flush();
  };

  /** Flushes `member` at the end of this turn. */
  due(member: Flushing): void {
    this.#due.push(member);
    if (this.#scheduled) return;
    this.#scheduled = true;
    atTurnEnd(this.#run);
  }
}

/**
 * A stream's whole queue as one buffer, when every batch in it reads the
 * same for everyone (nothing missed, a message at least: `encode` gives its
 * bytes, made once for every connection, unless too large to keep) and together they fit in `max`
 * bytes; else `undefined`, and the stream writes the queue piece by piece.
 */
export function sharedQueue(queue: readonly Batch[], max: number, encode: (batch: Batch) => Buffer | undefined): Buffer | undefined {
  const parts: Buffer[] = [];
  let bytes = 0;
  for (const batch of queue) {
    if (batch.missed || batch.messages.length === 0) return undefined;
    const frames = encode(batch);
    if (!frames || bytes + frames.length > max) return undefined;
    parts.push(frames);
    bytes += frames.length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
}
