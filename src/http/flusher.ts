/** A stream that writes once per turn of the event loop: what became ready for it meanwhile, in one go. */
export interface Flushing {
  flush(): void;
}

/**
 * One server's write turn. A stream handed messages does not write at once:
 * it asks to be flushed, and one `setImmediate` (after the poll phase, where
 * the publishes of one read of the sockets are all handled) flushes every
 * stream that asked. So a burst costs each connection one write, not one per
 * message. A stream asks once per turn (it keeps its own flag, cleared by
 * `flush()`); one that asks while the turn is flushed is flushed in the next.
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
    setImmediate(this.#run);
  }
}
