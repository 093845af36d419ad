interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets kept before idle ones are swept; an attacker with many addresses only resets buckets to full. */
const MAX_BUCKETS = 10_000;

/**
 * A token bucket per client: `rate` tokens a second, at most `burst` saved
 * up. A client that has been idle long enough to be full again is forgotten.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  /** @param rate tokens per second; 0 turns the limit off */
  constructor(rate: number, burst: number, now: () => number = Date.now) {
    this.#rate = rate;
    this.#burst = burst;
    this.#now = now;
  }

  /** Takes a token for `client`: 0 when it had one, else the ms until it will. */
  take(client: string): number {
    if (this.#rate === 0) return 0;
    const now = this.#now();
    const bucket = this.#buckets.get(client) ?? this.#add(client, now);
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
    bucket.at = now;
    // The epsilon keeps float dust (1.0000000000000009 ms) from rounding a wait up by a whole ms.
    if (bucket.tokens < 1) return Math.ceil(((1 - bucket.tokens) / this.#rate) * 1000 - 1e-9);
    bucket.tokens -= 1;
    return 0;
  }

  #add(client: string, now: number): Bucket {
    if (this.#buckets.size >= MAX_BUCKETS) this.#sweep(now);
    const bucket = { tokens: this.#burst, at: now };
    this.#buckets.set(client, bucket);
    return bucket;
  }

  #sweep(now: number): void {
    const refill = (this.#burst / this.#rate) * 1000;
    for (const [client, bucket] of this.#buckets) {
      if (now - bucket.at >= refill) this.#buckets.delete(client);
    }
    // Still full of busy clients: forget the oldest, which at worst lets them burst again.
    for (const client of this.#buckets.keys()) {
      if (this.#buckets.size < MAX_BUCKETS) break;
      this.#buckets.delete(client);
    }
  }
}
