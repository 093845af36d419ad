import type { Message } from './protocol.js';

/** A message as the hub keeps it: with the sequence number its cursor encodes, and its size. */
export interface Entry {
  readonly seq: number;
  readonly message: Message;
  /** UTF-8 bytes of the text, for the hub's byte budget. */
  readonly bytes: number;
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
  #droppedThrough: number;

  /**
   * @param capacity how many entries are kept (at least 1)
   * @param droppedThrough what may already be lost before the first entry (a channel made again)
   */
  constructor(capacity: number, droppedThrough = 0) {
    this.#ring = new Array<Entry | undefined>(capacity);
    this.#droppedThrough = droppedThrough;
  }

  get size(): number {
    return this.#size;
  }

  /** Highest `seq` that was evicted; 0 when nothing was. */
  get droppedThrough(): number {
    return this.#droppedThrough;
  }

  /** The oldest entry kept. */
  get oldest(): Entry | undefined {
    return this.#size === 0 ? undefined : this.#at(0);
  }

  /** Appends an entry; returns the one evicted to make room, if any. */
  push(entry: Entry): Entry | undefined {
    const evicted = this.#size === this.#ring.length ? this.shift() : undefined;
    this.#ring[(this.#start + this.#size) % this.#ring.length] = entry;
    this.#size++;
    return evicted;
  }

  /** Evicts the oldest entry and returns it. */
  shift(): Entry | undefined {
    if (this.#size === 0) return undefined;
    const entry = this.#at(0);
    this.#ring[this.#start] = undefined;
    this.#start = (this.#start + 1) % this.#ring.length;
    this.#size--;
    this.#droppedThrough = entry.seq;
    return entry;
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
