import { randomBytes } from 'node:crypto';
import { BatchCache } from './batch-cache.js';
import type { BatchShelf } from './batch-cache.js';
import { CHANNEL_OVERHEAD, messageCost } from './footprint.js';
import { History } from './history.js';
import type { Entry } from './history.js';
import { HubClosedError, HubFullError, InvalidCursorError, KeyReusedError } from './hub.js';
import type { Hub, HubStats, PublishResult, Subscription, Waiter } from './hub.js';
import { OLDEST } from './protocol.js';
import type { Batch, From, Message } from './protocol.js';
import { releaseAll, Settled } from './settled.js';
import { atTurnEnd } from './turn.js';

/** Options of the in-memory hub. */
export interface MemoryHubOptions {
  /** Messages kept per channel for clients that resume. Default 1000. */
  historyLimit?: number;
  /**
   * Heap bytes that history may take across all channels: every kept message
   * at its cost (`messageCost()`: text, overhead, idempotency key, author) and every
   * channel (`CHANNEL_OVERHEAD`); past it, the oldest messages of all go
   * first. Default 64 MiB.
   */
  historyBytes?: number;
  /** Bytes of batches (encodings included, at their worst case) kept for clients resuming from the same place. Default 16 MiB. */
  batchCacheBytes?: number;
  /** Channels kept at once; making one more evicts the oldest messages until a channel is free. Default 10 000. */
  maxChannels?: number;
}

const DEFAULTS: Required<MemoryHubOptions> = {
  historyLimit: 1000,
  historyBytes: 64 * 1024 * 1024,
  batchCacheBytes: 16 * 1024 * 1024,
  maxChannels: 10_000,
};

/**
 * `<run>-<seq>`: `run` names this process's lifetime, so a cursor from an
 * earlier run is recognised (and reported as missed) instead of being taken
 * for a position in this one.
 */
const CURSOR = /^([0-9a-z]{1,32})-(\d{1,15})$/;

interface Channel {
  readonly name: string;
  readonly history: History;
  waiters: Set<Parked>;
  /**
   * This turn's wake, while one is due: the messages published to the channel
   * in the turn, and the waiters taken off it, each group with the first of
   * those messages it has not seen (`from`: the waiters parked before it).
   */
  wake: { readonly messages: Message[]; readonly groups: { readonly waiters: Set<Parked>; readonly from: number }[] } | undefined;
  /** Idempotency keys of the messages in the history, each gone with its message. */
  readonly keys: Map<string, Message>;
  /**
   * Batches answered from history since the channel last changed, by
   * position: clients resuming from the same cursor share one batch, and so
   * one encoding of it.
   */
  readonly batches: BatchShelf<number>;
}

/** One kept message in the order of all channels, so the oldest of them all can be evicted first. */
interface Kept {
  readonly channel: Channel;
  readonly seq: number;
}

/** Where a cursor points, once parsed against this hub. */
interface Position {
  readonly seq: number;
  /** The cursor cannot be served completely (earlier run). */
  readonly lost: boolean;
  /** `since=0`: whatever is kept is all that was asked for, so nothing counts as missed. */
  readonly oldest?: boolean;
}

/** A subscription that is parked on a channel or about to be answered. */
class Parked extends Settled implements Subscription {
  readonly cursor: string;
  readonly #hub: MemoryHub;
  readonly #channel: string;

  constructor(hub: MemoryHub, channel: string, cursor: string, waiter: Waiter) {
    super(waiter);
    this.#hub = hub;
    this.#channel = channel;
    this.cursor = cursor;
  }

  cancel(): void {
    if (!this.settle()) return;
    this.#hub.unpark(this.#channel, this);
  }
}

/**
 * The embedded default hub: one process, history in memory. Sequence numbers
 * are global across channels, so a cursor stays meaningful even if its
 * channel was dropped and created again.
 */
export class MemoryHub implements Hub {
  readonly #limits: Required<MemoryHubOptions>;
  readonly #cache: BatchCache;
  readonly #run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  readonly #channels = new Map<string, Channel>();
  /**
   * Every kept message, oldest first, across channels. Entries of messages a
   * channel already evicted on its own stay until they reach the front or
   * the queue is compacted.
   */
  #kept: (Kept | undefined)[] = [];
  #keptStart = 0;
  #keptCount = 0;
  /** Charged against `historyBytes`: kept messages and channels. */
  #bytes = 0;
  /**
   * How far dropped channels had lost messages, so that a channel made again
   * still reports a cursor from before the loss as missed. Bounded like the
   * channels; what overflows raises `#forgottenFloor`, which applies to all
   * names (a false "missed" is better than a silent loss).
   */
  readonly #forgotten = new Map<string, number>();
  #forgottenFloor = 0;
  #seq = 0;
  /** The cursor of `#seq`: where every poll that is up to date resumes from, made once per message, not per poll. */
  #newest = `${this.#run}-0`;
  #waiting = 0;
  /** Channels whose wake is due at the end of this turn. */
  #wakes: Channel[] = [];
  #published = 0;
  #delivered = 0;
  #closed = false;

  constructor(options: MemoryHubOptions = {}) {
    const limits = { ...DEFAULTS, ...options };
    for (const [key, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${key} must be a whole number of at least 1, got ${value}`);
    }
    this.#limits = limits;
    this.#cache = new BatchCache(limits.batchCacheBytes);
  }

  publish(channelName: string, text: string, key?: string, from?: From): Promise<PublishResult> {
    if (this.#closed) return Promise.reject(new HubClosedError('the hub is closed'));
    let channel: Channel;
    try {
      channel = this.#channel(channelName);
    } catch (error) {
      return Promise.reject(error);
    }
    const earlier = key === undefined ? undefined : channel.keys.get(key);
    if (earlier) {
      if (earlier.text !== text) return Promise.reject(new KeyReusedError('this Idempotency-Key was used for another message'));
      return Promise.resolve({ message: earlier, repeated: true });
    }
    const seq = ++this.#seq;
    this.#newest = `${this.#run}-${seq}`;
    const message: Message = from
      ? { id: this.#cursor(seq), text, time: Date.now(), from }
      : { id: this.#cursor(seq), text, time: Date.now() };
    this.#keep(channel, { seq, message, cost: messageCost(text, key, from), key });
    channel.batches.clear();
    if (key !== undefined) channel.keys.set(key, message);
    this.#published++;
    // Held by the wake: a message larger than the whole budget still reaches those waiting for it.
    this.#queueWake(channel, message);
    this.#trim();
    return Promise.resolve({ message, repeated: false });
  }

  subscribe(channelName: string, since: string | undefined, waiter: Waiter): Subscription {
    const position = this.#parse(since);
    const cursor = this.#cursor(position.seq);
    if (this.#closed) {
      const parked = new Parked(this, channelName, cursor, waiter);
      queueMicrotask(() => parked.release());
      return parked;
    }
    const ready = this.#batchAfter(channelName, position);
    if (ready) {
      const parked = new Parked(this, channelName, cursor, waiter);
      // Never answer from inside subscribe(): the caller is still setting up.
      queueMicrotask(() => this.#deliver(parked, ready));
      return parked;
    }
    const channel = this.#channel(channelName);
    // The channel's own name, shared by all its waiters: the request's copy of it is not kept while the poll waits.
    const parked = new Parked(this, channel.name, cursor, waiter);
    channel.waiters.add(parked);
    this.#waiting++;
    return parked;
  }

  read(channelName: string, since: string | undefined): Promise<Batch> {
    const position = this.#parse(since);
    const batch = this.#batchAfter(channelName, position);
    return Promise.resolve(batch ?? { messages: [], missed: false, cursor: this.#cursor(position.seq) });
  }

  stats(): HubStats {
    return {
      waiting: this.#waiting,
      channels: this.#channels.size,
      published: this.#published,
      delivered: this.#delivered,
      bytes: this.#bytes,
    };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    // What was published before the close reaches those waiting for it first.
    this.#wakeAll();
    for (const channel of this.#channels.values()) {
      const waiters = channel.waiters;
      channel.waiters = new Set();
      // Counted off before any is released: a released waiter may cancel others (a set of channels), which counts them off too.
      this.#waiting -= waiters.size;
      releaseAll(waiters);
    }
    return Promise.resolve();
  }

  /** @internal called by a cancelled subscription */
  unpark(channelName: string, parked: Parked): void {
    const channel = this.#channels.get(channelName);
    if (channel?.waiters.delete(parked)) {
      this.#waiting--;
      this.#dropIfIdle(channel);
    }
  }

  /**
   * Takes the channel's waiters off it for the wake at the end of the turn,
   * where they get `message` and whatever else is published to the channel
   * until then, in one batch: a burst is one answer, one write and one
   * encoding per waiter, not one per message. A waiter that parks meanwhile
   * has seen what came before it, and is woken with what comes after.
   */
  #queueWake(channel: Channel, message: Message): void {
    const waiters = channel.waiters;
    let wake = channel.wake;
    if (waiters.size > 0) {
      // Swapped: a waiter that subscribes again once answered waits for the next message, not this one twice.
      channel.waiters = new Set();
      this.#waiting -= waiters.size;
      if (!wake) {
        wake = channel.wake = { messages: [], groups: [] };
        if (this.#wakes.push(channel) === 1) atTurnEnd(this.#wakeAll);
      }
      wake.groups.push({ waiters, from: wake.messages.length });
    }
    wake?.messages.push(message);
  }

  readonly #wakeAll = (): void => {
    const channels = this.#wakes;
    this.#wakes = [];
    for (const channel of channels) {
      const wake = channel.wake!;
      channel.wake = undefined;
      for (const { waiters, from } of wake.groups) {
        const messages = from === 0 ? wake.messages : wake.messages.slice(from);
        const batch: Batch = { messages, missed: false, cursor: messages[messages.length - 1]!.id };
        for (const parked of waiters) this.#deliver(parked, batch);
      }
    }
  };

  #deliver(parked: Parked, batch: Batch): void {
    this.#delivered += parked.deliver(batch);
  }

  /**
   * The batch a position gets at once, or undefined when it has to wait. An
   * empty batch still answers at once when it has news: that messages were
   * missed, or (for `since=0`) where the channel stands, so that the client
   * holds a real cursor from its first answer.
   */
  #batchAfter(channelName: string, position: Position): Batch | undefined {
    const channel = this.#channels.get(channelName);
    if (!channel) return this.#freshBatch(undefined, channelName, position);
    const key = position.lost ? -1 : position.oldest ? -2 : position.seq;
    const cached = channel.batches.get(key);
    if (cached) return cached;
    const batch = this.#freshBatch(channel, channelName, position);
    return batch && channel.batches.put(key, batch);
  }

  #freshBatch(channel: Channel | undefined, channelName: string, position: Position): Batch | undefined {
    const messages = channel?.history.after(position.seq) ?? [];
    const droppedThrough = channel?.history.droppedThrough ?? this.#lostBefore(channelName);
    const missed = position.lost || (!position.oldest && position.seq < droppedThrough);
    if (messages.length > 0) return { messages, missed, cursor: messages[messages.length - 1]!.id };
    if (missed || position.oldest) return { messages, missed, cursor: this.#cursor(this.#seq) };
    return undefined;
  }

  #parse(since: string | undefined): Position {
    if (since === undefined) return { seq: this.#seq, lost: false };
    if (since === this.#newest) return { seq: this.#seq, lost: false };
    if (since === OLDEST) return { seq: 0, lost: false, oldest: true };
    const match = CURSOR.exec(since);
    if (!match) throw new InvalidCursorError('cursor is malformed');
    if (match[1] !== this.#run) return { seq: 0, lost: true };
    const seq = Number(match[2]);
    if (seq > this.#seq) throw new InvalidCursorError('cursor is ahead of this server');
    return { seq, lost: false };
  }

  #cursor(seq: number): string {
    return seq === this.#seq ? this.#newest : `${this.#run}-${seq}`;
  }

  /** The channel of that name, made if need be; throws `HubFullError` when no room can be made. */
  #channel(name: string): Channel {
    let channel = this.#channels.get(name);
    if (!channel) {
      while (this.#channels.size >= this.#limits.maxChannels) {
        if (!this.#evictOldest()) throw new HubFullError('too many channels are in use');
      }
      channel = {
        name,
        history: new History(this.#limits.historyLimit, this.#lostBefore(name)),
        waiters: new Set(),
        wake: undefined,
        keys: new Map(),
        batches: this.#cache.shelf(),
      };
      this.#forgotten.delete(name);
      this.#channels.set(name, channel);
      this.#bytes += CHANNEL_OVERHEAD;
      this.#trim();
    }
    return channel;
  }

  /** Evicts the oldest messages of all channels until what is charged fits the budget, or nothing is left to evict. */
  #trim(): void {
    while (this.#bytes > this.#limits.historyBytes && this.#evictOldest());
  }

  #keep(channel: Channel, entry: Entry): void {
    const evicted = channel.history.push(entry);
    this.#bytes += entry.cost;
    if (evicted) this.#forget(channel, evicted);
    else this.#keptCount++;
    this.#kept.push({ channel, seq: entry.seq });
    const queued = this.#kept.length - this.#keptStart;
    // Sweep once the queue is mostly slots already taken from its front, or entries of
    // messages evicted by their channel's own limit: either would otherwise grow for ever.
    if (this.#keptStart > queued + 1024 || queued > 2 * this.#keptCount + 1024) {
      this.#kept = this.#kept.slice(this.#keptStart).filter((kept) => kept !== undefined && this.#isKept(kept));
      this.#keptStart = 0;
    }
  }

  /** Evicts the oldest message of all channels; false when nothing is kept. */
  #evictOldest(): boolean {
    while (this.#keptStart < this.#kept.length) {
      const kept = this.#kept[this.#keptStart]!;
      this.#kept[this.#keptStart++] = undefined;
      if (!this.#isKept(kept)) continue;
      const entry = kept.channel.history.shift()!;
      kept.channel.batches.clear();
      this.#forget(kept.channel, entry);
      this.#keptCount--;
      this.#dropIfIdle(kept.channel);
      return true;
    }
    return false;
  }

  /** An entry left its channel's history: its cost and its key go with it. */
  #forget(channel: Channel, entry: Entry): void {
    this.#bytes -= entry.cost;
    if (entry.key !== undefined && channel.keys.get(entry.key) === entry.message) channel.keys.delete(entry.key);
  }

  #isKept({ channel, seq }: Kept): boolean {
    const oldest = channel.history.oldest;
    return this.#channels.get(channel.name) === channel && oldest !== undefined && oldest.seq <= seq;
  }

  #dropIfIdle(channel: Channel): void {
    if (channel.waiters.size > 0 || channel.history.size > 0) return;
    this.#channels.delete(channel.name);
    channel.batches.clear();
    this.#bytes -= CHANNEL_OVERHEAD;
    if (channel.history.droppedThrough <= this.#forgottenFloor) return;
    this.#forgotten.set(channel.name, channel.history.droppedThrough);
    if (this.#forgotten.size > this.#limits.maxChannels) {
      const [name, droppedThrough] = this.#forgotten.entries().next().value!;
      this.#forgotten.delete(name);
      this.#forgottenFloor = Math.max(this.#forgottenFloor, droppedThrough);
    }
  }

  /** How far a channel that is not kept now had lost messages. */
  #lostBefore(name: string): number {
    return this.#forgotten.get(name) ?? this.#forgottenFloor;
  }
}
