/**
 * One blocking reader per process over every channel that has local waiters:
 * `XREAD BLOCK … STREAMS k1 k2 … id1 id2 …` on a connection of its own,
 * re-issued whenever the set of channels grows (the command connection ends
 * the blocked read with `CLIENT UNBLOCK`). Never one connection per
 * subscriber.
 */
import type { Redis } from 'ioredis';
import { channelOfKey, streamKey, toEntry } from './store.js';
import type { RawEntry, RedisStore, StoredEntry } from './store.js';

/** What the reader reads for, and whom it tells. */
export interface ReaderSource {
  /** Channel → the id after which to read it. Asked before every read. */
  positions(): ReadonlyMap<string, string>;
  /**
   * New entries of a channel, in order, all after the position it was read
   * from. They follow each other in the stream, but the first need not
   * follow `from`: what lay between may have been trimmed since the last read.
   */
  entries(channel: string, entries: readonly StoredEntry[], from: string): void;
}

/**
 * How long one read blocks. A backstop only: a new channel ends the read at
 * once through `CLIENT UNBLOCK`; this bounds the delay should an unblock
 * arrive before its read did.
 */
const BLOCK_MS = 2_000;
/** Entries taken per channel per read, so one busy channel cannot make a reply huge. */
const COUNT = 1_000;
/** Pause before trying again after a failed read (the connection reconnects on its own meanwhile). */
const RETRY_MS = 250;
/** An unblock that found no blocked read is retried this often, this many times, while the stale read is still out. */
const UNBLOCK_RETRY_MS = 10;
const UNBLOCK_TRIES = 50;

type XreadReply = [key: string, entries: RawEntry[]][] | null;

export class StreamReader {
  readonly #connection: Redis;
  readonly #store: RedisStore;
  readonly #source: ReaderSource;
  #clientId: number | undefined;
  /** The channels of the read now out, or undefined when none is. */
  #reading: ReadonlySet<string> | undefined;
  /** Settles the wait for work while there is no channel to read. */
  #wake: (() => void) | undefined;
  #unblocking = false;
  #closed = false;
  #running: Promise<void> | undefined;

  constructor(connection: Redis, store: RedisStore, source: ReaderSource) {
    this.#connection = connection;
    this.#store = store;
    this.#source = source;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /**
   * A channel was added, or (`moved`) its position was set elsewhere: the
   * read out now (if any) must be re-issued to include it, or to read it
   * from there.
   */
  changed(channel: string, moved = false): void {
    if (this.#wake) {
      this.#wake();
      return;
    }
    if (this.#reading && (moved || !this.#reading.has(channel))) void this.#unblock();
  }

  /** Stops reading and closes the connection; resolves when the loop has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    this.#connection.disconnect();
    await this.#running;
  }

  async #run(): Promise<void> {
    // Bounded by close(): every turn either reads (blocking at most BLOCK_MS), waits to be woken, or pauses RETRY_MS.
    while (!this.#closed) {
      const positions = this.#source.positions();
      if (positions.size === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      try {
        await this.#readOnce(positions);
      } catch {
        if (this.#closed) return;
        this.#clientId = undefined;
        await sleep(RETRY_MS);
      }
    }
  }

  async #readOnce(positions: ReadonlyMap<string, string>): Promise<void> {
    this.#clientId ??= (await this.#connection.call('CLIENT', 'ID')) as number;
    const keys: string[] = [];
    const ids: string[] = [];
    for (const [channel, id] of positions) {
      keys.push(streamKey(channel));
      ids.push(id);
    }
    this.#reading = new Set(positions.keys());
    let reply: XreadReply;
    try {
      reply = (await this.#connection.call('XREAD', 'COUNT', COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...ids)) as XreadReply;
    } finally {
      this.#reading = undefined;
    }
    for (const [key, raw] of reply ?? []) {
      const channel = channelOfKey(key);
      this.#source.entries(channel, raw.map(toEntry), positions.get(channel)!);
    }
  }

  /**
   * Ends the blocked read so the next one includes the new channel. An
   * unblock can overtake the read it means to end (sent on another
   * connection): while that read is still out, try again shortly.
   */
  async #unblock(): Promise<void> {
    if (this.#unblocking) return;
    this.#unblocking = true;
    try {
      const stale = this.#reading;
      for (let tries = 0; tries < UNBLOCK_TRIES && !this.#closed && stale && this.#reading === stale; tries++) {
        if (this.#clientId !== undefined && (await this.#store.unblock(this.#clientId))) return;
        await sleep(UNBLOCK_RETRY_MS);
      }
    } catch {
      // Redis is away: the read fails on its own and the loop re-issues it.
    } finally {
      this.#unblocking = false;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
