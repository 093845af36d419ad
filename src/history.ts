import type { Message } from './protocol.js';

/** A message as the hub keeps it: with the sequence number its cursor encodes, and what it costs. */
export interface Entry {
  readonly seq: number;
  readonly message: Message;
  /** Heap bytes charged against the hub's budget (`messageCost()`). */
  readonly cost: number;
  /** The idempotency key it was published with, which lives as long as the message. */
  readonly key?: string;
}

/** The smallest ring a channel with history keeps; it doubles as it fills, up to the limit. */
const MIN_RING = 8;

/**
 * A bounded ring of entries in ascending `seq` order. Pushing into a full ring
 * evicts the oldest entry; `droppedThrough` remembers how far eviction reached,
 * which is what lets the hub say "you missed messages" instead of losing them
 * silently. The ring grows with its entries and shrinks when they go, so a
 * channel costs what it holds, not what it may hold.
 */
export class History {
  readonly #limit: number;
  #ring: (Entry | undefined)[] = [];
  #start = 0;
  #size = 0;
  #droppedThrough: number;

  /**
   * @param limit how many entries are kept at most (at least 1)
   * @param droppedThrough what may already be lost before the first entry (a channel made again)
   */
  constructor(limit: number, droppedThrough = 0) {
    this.#limit = limit;
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
    const evicted = this.#size === this.#limit ? this.shift() : undefined;
    if (this.#size === this.#ring.length) this.#resize(Math.min(this.#limit, Math.max(MIN_RING, 2 * this.#ring.length)));
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
    // A quarter, not a half: a channel hovering at a boundary must not copy its ring on every message.
    if (this.#ring.length > MIN_RING && this.#size <= this.#ring.length / 4) this.#resize(Math.max(MIN_RING, this.#ring.length >>> 1));
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

  #resize(capacity: number): void {
    const ring = new Array<Entry | undefined>(capacity);
    for (let i = 0; i < this.#size; i++) ring[i] = this.#at(i);
    this.#ring = ring;
    this.#start = 0;
  }

  #at(index: number): Entry {
    return this.#ring[(this.#start + index) % this.#ring.length]!;
  }
}
