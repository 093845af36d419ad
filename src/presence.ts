/**
 * Who is here: the distinct `from` of a channel's subscribers. A stream (an
 * event stream, a WebSocket) is here while it is open; a long poll or an
 * interval poll is here until its `until` (its poll timeout plus a grace),
 * renewed by each poll. Bounded: at most `budget` entries over all channels;
 * beyond, a subscriber is served but not listed (`dropped` counts it).
 */
import { fromKey } from './http/identity.js';
import type { From } from './protocol.js';

/** What `GET /presence` answers with. */
export interface Here {
  /** Distinct authors subscribed now, at most `MAX_LISTED`. */
  readonly here: readonly From[];
}

/** Authors listed in one answer at most. */
export const MAX_LISTED = 1_000;

/** Counters, for `/stats`. */
export interface PresenceStats {
  /** Entries held now (one per author per channel). */
  readonly entries: number;
  /** Subscribers not listed because the budget was full. */
  readonly dropped: number;
}

/** Where presence is kept: in this process, or shared through Redis. */
export interface Presence {
  /** A stream subscriber arrives; returns the function that says it left (idempotent). */
  hold(channel: string, from: From): () => void;
  /** A poll arrives: its author counts until `until` (ms since the epoch), unless a later poll renews it. */
  touch(channel: string, from: From, until: number): void;
  /** The distinct authors subscribed to `channel` now. */
  here(channel: string): Here | Promise<Here>;
  stats(): PresenceStats;
  /** Connects to the shared storage, if any. */
  open?(): Promise<void>;
  /** Stops timers and connections. Idempotent. */
  close(): Promise<void>;
}

/** One author on one channel. */
export interface Entry {
  readonly from: From;
  /** Open streams of this author. */
  holders: number;
  /** Until when its last poll keeps it here. */
  until: number;
}

/** Called when an entry appears on a channel, or is gone from it. */
export interface PresenceListener {
  added(channel: string, key: string, entry: Entry): void;
  removed(channel: string, key: string): void;
}

/** Presence in this process. */
export class LocalPresence implements Presence {
  readonly #budget: number;
  readonly #channels = new Map<string, Map<string, Entry>>();
  readonly #listener: PresenceListener | undefined;
  #entries = 0;
  #dropped = 0;
  #sweptAt = 0;

  /** @param budget entries kept at once over all channels */
  constructor(budget: number, listener?: PresenceListener) {
    this.#budget = budget;
    this.#listener = listener;
  }

  hold(channel: string, from: From): () => void {
    const key = fromKey(from);
    const entry = this.#entry(channel, key, from);
    if (!entry) return () => undefined;
    entry.holders++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      entry.holders--;
      if (entry.holders === 0 && entry.until <= Date.now()) this.#remove(channel, key, entry);
    };
  }

  touch(channel: string, from: From, until: number): void {
    const entry = this.#entry(channel, fromKey(from), from);
    if (entry) entry.until = Math.max(entry.until, until);
  }

  here(channel: string): Here {
    const entries = this.#channels.get(channel);
    if (!entries) return { here: [] };
    const now = Date.now();
    const here: From[] = [];
    for (const [key, entry] of entries) {
      if (entry.holders === 0 && entry.until <= now) this.#remove(channel, key, entry);
      else if (here.length < MAX_LISTED) here.push(entry.from);
    }
    return { here };
  }

  /** Every entry present now, for a storage that must be told again periodically. */
  *live(): Generator<[channel: string, key: string, entry: Entry]> {
    const now = Date.now();
    for (const [channel, entries] of this.#channels) {
      for (const [key, entry] of entries) {
        if (entry.holders === 0 && entry.until <= now) this.#remove(channel, key, entry);
        else yield [channel, key, entry];
      }
    }
  }

  stats(): PresenceStats {
    return { entries: this.#entries, dropped: this.#dropped };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The entry of an author on a channel, made if the budget allows (after sweeping the expired). */
  #entry(channel: string, key: string, from: From): Entry | undefined {
    const existing = this.#channels.get(channel)?.get(key);
    if (existing) return existing;
    // A full budget is swept for expired entries, at most once a second: a flood of new names must not make every poll a sweep.
    if (this.#entries >= this.#budget && Date.now() - this.#sweptAt >= 1_000) {
      this.#sweptAt = Date.now();
      for (const _ of this.live());
    }
    if (this.#entries >= this.#budget) {
      this.#dropped++;
      return undefined;
    }
    let entries = this.#channels.get(channel);
    if (!entries) this.#channels.set(channel, (entries = new Map()));
    const entry: Entry = { from, holders: 0, until: 0 };
    entries.set(key, entry);
    this.#entries++;
    this.#listener?.added(channel, key, entry);
    return entry;
  }

  #remove(channel: string, key: string, entry: Entry): void {
    const entries = this.#channels.get(channel);
    if (entries?.get(key) !== entry) return;
    entries.delete(key);
    if (entries.size === 0) this.#channels.delete(channel);
    this.#entries--;
    this.#listener?.removed(channel, key);
  }
}
