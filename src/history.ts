import type { Message } from './protocol.js';

/** A message as the hub keeps it: with the sequence number its cursor encodes. */
export interface Entry {
  readonly seq: number;
  readonly message: Message;
}

/**
 * A bounded ring of entries in ascending `seq` order. Pushing into a full ring
 * evicts the oldest entry; `droppedThrough` remembers how far eviction reached,
 * which is what lets the hub say "you missed messages" instead of losing them
 * silently.
 */
export class History {
  readonly #ring: (Entry | undefined)[];
  #start = 0;
  #size = 0;
  #droppedThrough = 0;

  /** @param capacity how many entries are kept (at least 1) */
  constructor(capacity: number) {
    this.#ring = new Array<Entry | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Highest `seq` that was evicted; 0 when nothing was. */
  get droppedThrough(): number {
    return this.#droppedThrough;
  }

  push(entry: Entry): void {
    const capacity = this.#ring.length;
    if (this.#size === capacity) {
      this.#droppedThrough = this.#at(0).seq;
      this.#ring[this.#start] = entry;
      this.#start = (this.#start + 1) % capacity;
      return;
    }
    this.#ring[(this.#start + this.#size) % capacity] = entry;
    this.#size++;
  }

  /** The kept messages with `seq` greater than `seq`, oldest first. */
  after(seq: number): Message[] {
    const messages: Message[] = [];
    for (let i = this.#firstAfter(seq); i < this.#size; i++) messages.push(this.#at(i).message);
    return messages;
  }

  /** Binary search: sequence numbers are global, so a channel's are increasing but not contiguous. */
  #firstAfter(seq: number): number {
    let low = 0;
    let high = this.#size;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#at(middle).seq <= seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #at(index: number): Entry {
    return this.#ring[(this.#start + index) % this.#ring.length]!;
  }
}
