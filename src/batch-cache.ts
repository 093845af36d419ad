import { batchCost } from './footprint.js';
import type { Batch } from './protocol.js';

interface Cached {
  readonly shelf: BatchShelf<unknown>;
  readonly key: unknown;
  readonly cost: number;
}

/**
 * Batches answered from history, kept so that clients resuming from the same
 * place share one batch (and one encoding of it), within a byte budget for
 * all channels: each batch is charged `batchCost()`, its encoding at the
 * worst case included, so that any number of distinct cursors holds at most
 * the budget. Past it, the oldest batches go; a batch larger than the whole
 * budget is not kept at all (each answer then makes its own).
 */
export class BatchCache {
  /** The budget, in bytes. */
  readonly budget: number;
  #bytes = 0;
  /** Every cached batch, oldest first. */
  readonly #batches = new Map<Batch, Cached>();

  constructor(budget: number) {
    if (!Number.isSafeInteger(budget) || budget < 0)
      throw new RangeError(`the batch cache budget must be a whole number of bytes, got ${budget}`);
    this.budget = budget;
  }

  /** Bytes charged for the batches kept now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** A shelf for the batches of one channel, which that channel clears when it changes. */
  shelf<K>(): BatchShelf<K> {
    return new BatchShelf<K>(this);
  }

  /** @internal a shelf keeps `batch` under `key` if it fits, evicting the oldest others to make room. */
  admit(shelf: BatchShelf<unknown>, key: unknown, batch: Batch): boolean {
    const cost = batchCost(batch);
    if (cost > this.budget || this.#batches.has(batch)) return false;
    while (this.#bytes + cost > this.budget) this.#evictOldest();
    this.#batches.set(batch, { shelf, key, cost });
    this.#bytes += cost;
    return true;
  }

  /** @internal a shelf let `batch` go. */
  release(batch: Batch): void {
    const cached = this.#batches.get(batch);
    if (!cached) return;
    this.#batches.delete(batch);
    this.#bytes -= cached.cost;
  }

  #evictOldest(): void {
    const [batch, { shelf, key }] = this.#batches.entries().next().value!;
    shelf.forget(key);
    this.release(batch);
  }
}

/** The cached batches of one channel (or one watched channel), by position. */
export class BatchShelf<K> {
  readonly #cache: BatchCache;
  readonly #batches = new Map<K, Batch>();

  constructor(cache: BatchCache) {
    this.#cache = cache;
  }

  get(key: K): Batch | undefined {
    return this.#batches.get(key);
  }

  /** Keeps `batch` for `key` if the cache's budget allows; returns it either way. */
  put(key: K, batch: Batch): Batch {
    const earlier = this.#batches.get(key);
    if (earlier) this.#cache.release(earlier);
    this.#batches.delete(key);
    if (this.#cache.admit(this as BatchShelf<unknown>, key, batch)) this.#batches.set(key, batch);
    return batch;
  }

  /** Forgets every batch: the channel changed, or is dropped. */
  clear(): void {
    for (const batch of this.#batches.values()) this.#cache.release(batch);
    this.#batches.clear();
  }

  /** @internal the cache evicted the batch under `key`. */
  forget(key: K): void {
    this.#batches.delete(key);
  }
}
