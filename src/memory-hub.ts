import { randomBytes } from 'node:crypto';
import { History } from './history.js';
import { HubClosedError, InvalidCursorError, KeyReusedError } from './hub.js';
import type { Hub, HubStats, PublishResult, Subscription, Waiter } from './hub.js';
import { OLDEST } from './protocol.js';
import type { Batch, Message } from './protocol.js';

/** Options of the in-memory hub. */
export interface MemoryHubOptions {
  /** Messages kept per channel for clients that resume. Default 1000. */
  historyLimit?: number;
}

/**
 * `<run>-<seq>`: `run` names this process's lifetime, so a cursor from an
 * earlier run is recognised (and reported as missed) instead of being taken
 * for a position in this one.
 */
const CURSOR = /^([0-9a-z]{1,32})-(\d{1,15})$/;

interface Channel {
  readonly history: History;
  waiters: Set<Parked>;
  /** Idempotency keys of recent publishes, oldest first, as many as the history holds. */
  readonly keys: Map<string, Message>;
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
class Parked implements Subscription {
  readonly cursor: string;
  readonly waiter: Waiter;
  readonly #hub: MemoryHub;
  readonly #channel: string;
  #done = false;

  constructor(hub: MemoryHub, channel: string, cursor: string, waiter: Waiter) {
    this.#hub = hub;
    this.#channel = channel;
    this.cursor = cursor;
    this.waiter = waiter;
  }

  /** Marks the subscription answered; false when it already was, or was cancelled. */
  settle(): boolean {
    if (this.#done) return false;
    this.#done = true;
    return true;
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
  readonly #historyLimit: number;
  readonly #run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  readonly #channels = new Map<string, Channel>();
  #seq = 0;
  #waiting = 0;
  #published = 0;
  #delivered = 0;
  #closed = false;

  constructor(options: MemoryHubOptions = {}) {
    const historyLimit = options.historyLimit ?? 1000;
    if (!Number.isSafeInteger(historyLimit) || historyLimit < 1) {
      throw new RangeError(`historyLimit must be a whole number of at least 1, got ${historyLimit}`);
    }
    this.#historyLimit = historyLimit;
  }

  publish(channelName: string, text: string, key?: string): Promise<PublishResult> {
    if (this.#closed) return Promise.reject(new HubClosedError('the hub is closed'));
    const channel = this.#channel(channelName);
    const earlier = key === undefined ? undefined : channel.keys.get(key);
    if (earlier) {
      if (earlier.text !== text) return Promise.reject(new KeyReusedError('this Idempotency-Key was used for another message'));
      return Promise.resolve({ message: earlier, repeated: true });
    }
    const seq = ++this.#seq;
    const message: Message = { id: this.#cursor(seq), text, time: Date.now() };
    channel.history.push({ seq, message });
    if (key !== undefined) this.#remember(channel, key, message);
    this.#published++;
    this.#wake(channel, { messages: [message], missed: false, cursor: message.id });
    return Promise.resolve({ message, repeated: false });
  }

  subscribe(channelName: string, since: string | undefined, waiter: Waiter): Subscription {
    const position = this.#parse(since);
    const parked = new Parked(this, channelName, this.#cursor(position.seq), waiter);
    if (this.#closed) {
      queueMicrotask(() => this.#release(parked));
      return parked;
    }
    const channel = this.#channels.get(channelName);
    const ready = channel && this.#batchAfter(channel, position);
    if (ready) {
      // Never answer from inside subscribe(): the caller is still setting up.
      queueMicrotask(() => this.#deliver(parked, ready));
    } else if (position.lost || position.oldest) {
      // Nothing to give, but the client learns its position now: otherwise a
      // client that fails before the first message would come back with
      // `since=0` and could never be told about messages it missed meanwhile.
      const nothing: Batch = { messages: [], missed: position.lost, cursor: this.#cursor(this.#seq) };
      queueMicrotask(() => this.#deliver(parked, nothing));
    } else {
      this.#channel(channelName).waiters.add(parked);
      this.#waiting++;
    }
    return parked;
  }

  stats(): HubStats {
    return { waiting: this.#waiting, channels: this.#channels.size, published: this.#published, delivered: this.#delivered };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of this.#channels.values()) {
      const waiters = channel.waiters;
      channel.waiters = new Set();
      this.#waiting -= waiters.size;
      for (const parked of waiters) this.#release(parked);
    }
  }

  /** @internal called by a cancelled subscription */
  unpark(channelName: string, parked: Parked): void {
    const channel = this.#channels.get(channelName);
    if (channel?.waiters.delete(parked)) {
      this.#waiting--;
      this.#dropIfIdle(channelName, channel);
    }
  }

  #remember(channel: Channel, key: string, message: Message): void {
    channel.keys.set(key, message);
    if (channel.keys.size > this.#historyLimit) {
      channel.keys.delete(channel.keys.keys().next().value!);
    }
  }

  #wake(channel: Channel, batch: Batch): void {
    const waiters = channel.waiters;
    if (waiters.size === 0) return;
    // Swap first: a waiter that subscribes again while being answered must
    // wait for the next message, not get this one twice.
    channel.waiters = new Set();
    this.#waiting -= waiters.size;
    for (const parked of waiters) this.#deliver(parked, batch);
  }

  #deliver(parked: Parked, batch: Batch): void {
    if (!parked.settle()) return;
    this.#delivered += batch.messages.length;
    parked.waiter.deliver(batch);
  }

  #release(parked: Parked): void {
    if (parked.settle()) parked.waiter.release();
  }

  /** The batch a position gets at once, or undefined when it has to wait. */
  #batchAfter(channel: Channel, position: Position): Batch | undefined {
    const messages = channel.history.after(position.seq);
    const missed = position.lost || (!position.oldest && position.seq < channel.history.droppedThrough);
    if (messages.length === 0) return undefined;
    return { messages, missed, cursor: messages[messages.length - 1]!.id };
  }

  #parse(since: string | undefined): Position {
    if (since === undefined) return { seq: this.#seq, lost: false };
    if (since === OLDEST) return { seq: 0, lost: false, oldest: true };
    const match = CURSOR.exec(since);
    if (!match) throw new InvalidCursorError('cursor is malformed');
    if (match[1] !== this.#run) return { seq: 0, lost: true };
    const seq = Number(match[2]);
    if (seq > this.#seq) throw new InvalidCursorError('cursor is ahead of this server');
    return { seq, lost: false };
  }

  #cursor(seq: number): string {
    return `${this.#run}-${seq}`;
  }

  #channel(name: string): Channel {
    let channel = this.#channels.get(name);
    if (!channel) {
      channel = { history: new History(this.#historyLimit), waiters: new Set(), keys: new Map() };
      this.#channels.set(name, channel);
    }
    return channel;
  }

  #dropIfIdle(name: string, channel: Channel): void {
    if (channel.waiters.size === 0 && channel.history.size === 0) this.#channels.delete(name);
  }
}
