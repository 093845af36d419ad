import { HubClosedError, HubFullError, InvalidCursorError, KeyReusedError, StorageUnavailableError } from './hub.js';
import type { Hub, HubStats, PublishResult, Subscription, Waiter } from './hub.js';
import { OLDEST } from './protocol.js';
import type { Batch, From, Message } from './protocol.js';
import { createCommandConnection, createReaderConnection, redactUrl, RedisStore } from './redis-store.js';
import type { StoredEntry, StreamState } from './redis-store.js';
import { compareStreamIds, isStreamId, streamIdTime, ZERO_ID } from './stream-id.js';
import { StreamReader } from './stream-reader.js';
import type { ReaderSource } from './stream-reader.js';

/** Options of the Redis-backed hub. */
export interface RedisHubOptions {
  /** `redis://…` or `rediss://…`; required. */
  url: string;
  /** Entries kept per channel stream (exactly), and idempotency keys remembered per channel. Default 1000. */
  historyLimit?: number;
  /** Channels this instance watches for its waiters at once; beyond, `HubFullError`. Default 10 000. */
  maxChannels?: number;
}

/** How long the first connection may take before `open()` gives up. */
const OPEN_TIMEOUT_MS = 5_000;
/**
 * A channel whose last waiter left stays watched this long: long polls come
 * straight back, and re-issuing the blocking read for every poll would cost
 * more than reading a channel nobody waits on for a while.
 */
const LINGER_MS = 10_000;
/**
 * Messages a watched channel keeps in memory, so clients resuming just
 * behind are answered without Redis; never more than the history, so what is
 * answered from memory is what Redis would answer.
 */
const RECENT = 256;
/** A wait set up from Redis whose cursor the reader overtook meanwhile is set up again, at most this often. */
const RESOLVE_TRIES = 3;

/** `since` as the hub reads it: `'none'` (the next message), `'oldest'` (`since=0`), or a stream id. */
type Start = string;

/**
 * A channel this instance reads for its waiters. Every entry up to
 * `position` has been read; `recent` holds every entry in (`from`,
 * `position`], so a cursor in that span is answered from memory.
 */
interface Watch {
  position: string;
  from: string;
  recent: Message[];
  waiters: Set<Pending>;
  /** Batches answered from `recent` since it last changed, by cursor: clients resuming together share one. */
  readonly batches: Map<string, Batch>;
  idleSince: number;
}

/** A subscription: being set up against Redis, parked on a watch, or answered. */
class Pending implements Subscription {
  cursor: string | undefined;
  readonly channel: string;
  readonly waiter: Waiter;
  readonly #hub: RedisHub;
  #done = false;

  constructor(hub: RedisHub, channel: string, waiter: Waiter) {
    this.#hub = hub;
    this.channel = channel;
    this.waiter = waiter;
  }

  get done(): boolean {
    return this.#done;
  }

  /** Marks the subscription answered; false when it already was, or was cancelled. */
  settle(): boolean {
    if (this.#done) return false;
    this.#done = true;
    return true;
  }

  cancel(): void {
    if (this.settle()) this.#hub.unpark(this);
  }
}

/**
 * The hub on Redis Streams: one stream per channel (`pollcast:{channel}`),
 * message ids are stream ids, so cursors hold across instances and restarts.
 * Publishing goes through the command connection; one blocking reader per
 * instance wakes the local waiters of every channel at once.
 */
export class RedisHub implements Hub, ReaderSource {
  readonly #url: string;
  readonly #historyLimit: number;
  readonly #maxChannels: number;
  readonly #recent: number;
  readonly #watches = new Map<string, Watch>();
  #store: RedisStore | undefined;
  #reader: StreamReader | undefined;
  /** Whether both connections are up; false until `open()` connected them. */
  #connected: () => boolean = () => false;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #closeConnections: () => Promise<void> = () => Promise.resolve();
  #waiting = 0;
  #published = 0;
  #delivered = 0;
  #closed = false;
  #loggedDown = false;

  constructor(options: RedisHubOptions) {
    const { url, historyLimit = 1000, maxChannels = 10_000 } = options;
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) throw new TypeError('url must be a redis:// or rediss:// URL');
    for (const [key, value] of Object.entries({ historyLimit, maxChannels })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${key} must be a whole number of at least 1, got ${value}`);
    }
    this.#url = url;
    this.#historyLimit = historyLimit;
    this.#maxChannels = maxChannels;
    this.#recent = Math.min(RECENT, historyLimit);
  }

  open(): Promise<void> {
    this.#opening ??= this.#connect();
    return this.#opening;
  }

  async publish(channel: string, text: string, key?: string, from?: From): Promise<PublishResult> {
    if (this.#closed) throw new HubClosedError('the hub is closed');
    const outcome = await this.#requireStore().publish(channel, text, key, from);
    if (outcome.kind === 'reused') throw new KeyReusedError('this Idempotency-Key was used for another message');
    if (outcome.kind === 'stored') this.#published++;
    const message: Message = { id: outcome.id, text, time: streamIdTime(outcome.id), ...(from && { from }) };
    return { message, repeated: outcome.kind === 'repeated' };
  }

  subscribe(channel: string, since: string | undefined, waiter: Waiter): Subscription {
    const start = parseSince(since);
    const pending = new Pending(this, channel, waiter);
    if (this.#closed) {
      queueMicrotask(() => this.#release(pending));
      return pending;
    }
    // What the watch holds is served from memory even while Redis is away: a client resuming where
    // the reader stands parks like the polls already parked, and the reader catches up on return.
    const watch = this.#watches.get(channel);
    if (!(watch && this.#fromMemory(watch, pending, start))) void this.#resolve(pending, start, 1);
    return pending;
  }

  async read(channel: string, since: string | undefined): Promise<Batch> {
    const start = parseSince(since);
    const { batch, cursor } = interpret(await this.#requireStore().read(channel, start), start);
    return batch ?? { messages: [], missed: false, cursor };
  }

  stats(): HubStats {
    return { waiting: this.#waiting, channels: this.#watches.size, published: this.#published, delivered: this.#delivered, bytes: 0, storage: { kind: 'redis', up: this.#up() } };
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** @internal the reader asks before each read; channels idle for long enough are dropped here. */
  positions(): ReadonlyMap<string, string> {
    const now = Date.now();
    const positions = new Map<string, string>();
    for (const [channel, watch] of this.#watches) {
      if (watch.waiters.size === 0 && now - watch.idleSince > LINGER_MS) this.#watches.delete(channel);
      else positions.set(channel, watch.position);
    }
    return positions;
  }

  /** @internal new entries from the reader, read after `from`. */
  entries(channel: string, entries: readonly StoredEntry[], from: string): void {
    const watch = this.#watches.get(channel);
    // A watch made anew since the read was issued may start elsewhere: only a read from its own position is contiguous with it.
    if (!watch || watch.position !== from || entries.length === 0) return;
    const messages = entries.map(toMessage);
    watch.position = messages[messages.length - 1]!.id;
    watch.recent.push(...messages);
    if (watch.recent.length > this.#recent) watch.from = watch.recent.splice(0, watch.recent.length - this.#recent).pop()!.id;
    watch.batches.clear();
    this.#wake(watch, from, messages);
  }

  /** @internal called by a cancelled subscription */
  unpark(pending: Pending): void {
    const watch = this.#watches.get(pending.channel);
    if (watch?.waiters.delete(pending)) this.#left(watch, 1);
  }

  async #connect(): Promise<void> {
    const command = await createCommandConnection(this.#url);
    const reader = createReaderConnection(command);
    let lastError = 'no answer';
    for (const client of [command, reader]) {
      // Without a listener ioredis would print every failed reconnection; the state is logged once per change instead.
      client.on('error', (error: Error) => (lastError = error.message));
      client.on('close', () => this.#logState());
      client.on('ready', () => this.#logState());
    }
    this.#closeConnections = async () => {
      await Promise.race([command.quit().catch(() => undefined), sleep(1_000)]);
      command.disconnect();
      reader.disconnect();
    };
    const ready = Promise.all([command, reader].map((client) => {
      client.connect().catch(() => undefined); // retried by the connection's retryStrategy; readiness is awaited below
      return client.status === 'ready' ? undefined : new Promise((resolve) => client.once('ready', resolve));
    }));
    const timedOut = await Promise.race([ready.then(() => false), sleep(OPEN_TIMEOUT_MS).then(() => true)]);
    if (timedOut || this.#closed) {
      command.disconnect();
      reader.disconnect();
      throw new Error(`cannot reach Redis at ${redactUrl(this.#url)} within ${OPEN_TIMEOUT_MS / 1000} s (${lastError})`);
    }
    this.#connected = () => command.status === 'ready' && reader.status === 'ready';
    this.#store = new RedisStore(command, this.#historyLimit);
    this.#reader = new StreamReader(reader, this.#store, this);
    this.#reader.start();
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    for (const watch of this.#watches.values()) {
      const waiters = watch.waiters;
      watch.waiters = new Set();
      this.#waiting -= waiters.size;
      for (const pending of waiters) this.#release(pending);
    }
    this.#watches.clear();
    await this.#opening?.catch(() => undefined);
    await Promise.all([this.#reader?.close(), this.#closeConnections()]);
  }

  #requireStore(): RedisStore {
    if (!this.#store || !this.#up()) throw new StorageUnavailableError('redis is not connected');
    return this.#store;
  }

  #up(): boolean {
    return this.#store !== undefined && this.#connected();
  }

  #logState(): void {
    if (this.#closed || !this.#store) return;
    const down = !this.#up();
    if (down === this.#loggedDown) return;
    this.#loggedDown = down;
    console.error(down ? 'pollcast: Redis is unavailable; publishes and new polls get 503 until it is back' : 'pollcast: Redis is back');
  }

  /**
   * Answers or parks a subscription from the watch's memory, when its cursor
   * lies in the span the watch holds; false when Redis has to be asked.
   */
  #fromMemory(watch: Watch, pending: Pending, start: Start): boolean {
    if (start === 'oldest') return false;
    const cursor = start === 'none' ? watch.position : start;
    if (compareStreamIds(cursor, watch.from) < 0 || compareStreamIds(cursor, watch.position) > 0) return false;
    pending.cursor = cursor;
    if (cursor === watch.position) {
      this.#park(watch, pending);
      return true;
    }
    let batch = watch.batches.get(cursor);
    if (!batch) {
      const messages = watch.recent.filter((message) => compareStreamIds(message.id, cursor) > 0);
      batch = { messages, missed: false, cursor: watch.position };
      watch.batches.set(cursor, batch);
    }
    const ready = batch;
    // Never answer from inside subscribe(): the caller is still setting up.
    queueMicrotask(() => this.#deliver(pending, ready));
    return true;
  }

  /** Sets a subscription up from Redis: read the channel, then answer or park. */
  async #resolve(pending: Pending, start: Start, attempt: number): Promise<void> {
    let found: { batch?: Batch; cursor: string };
    try {
      found = interpret(await this.#requireStore().read(pending.channel, start), start);
    } catch (error) {
      if (this.#closed) this.#release(pending);
      else if (pending.settle()) pending.waiter.fail(error as Error);
      return;
    }
    if (pending.done) return;
    if (this.#closed) return this.#release(pending);
    pending.cursor = found.cursor;
    if (found.batch) {
      pending.waiter.started?.();
      this.#deliver(pending, found.batch);
      return;
    }
    let watch = this.#watches.get(pending.channel);
    if (watch && compareStreamIds(found.cursor, watch.position) < 0) {
      // The reader read past this cursor while Redis was being asked: what it read may be what this waiter needs.
      if (this.#fromMemory(watch, pending, found.cursor)) return pending.waiter.started?.();
      if (attempt < RESOLVE_TRIES) return this.#resolve(pending, found.cursor, attempt + 1);
      if (pending.settle()) pending.waiter.fail(new StorageUnavailableError('the channel moved too fast to start from this cursor'));
      return;
    }
    watch ??= this.#watch(pending.channel, found.cursor);
    if (!watch) {
      if (pending.settle()) pending.waiter.fail(new HubFullError('too many channels are in use'));
      return;
    }
    this.#park(watch, pending);
    pending.waiter.started?.();
  }

  /** Starts watching a channel from `position`; undefined when every watched channel has waiters. */
  #watch(channel: string, position: string): Watch | undefined {
    if (this.#watches.size >= this.#maxChannels && !this.#dropIdleWatch()) return undefined;
    const watch: Watch = { position, from: position, recent: [], waiters: new Set(), batches: new Map(), idleSince: Date.now() };
    this.#watches.set(channel, watch);
    this.#reader?.changed(channel);
    return watch;
  }

  #dropIdleWatch(): boolean {
    for (const [channel, watch] of this.#watches) {
      if (watch.waiters.size === 0) return this.#watches.delete(channel);
    }
    return false;
  }

  #park(watch: Watch, pending: Pending): void {
    watch.waiters.add(pending);
    this.#waiting++;
  }

  #left(watch: Watch, count: number): void {
    this.#waiting -= count;
    if (watch.waiters.size === 0) watch.idleSince = Date.now();
  }

  /**
   * Hands new messages to the watch's waiters. Waiters whose cursor is the
   * old position (nearly all) share one batch; one parked further on gets
   * only what follows its cursor, or stays.
   */
  #wake(watch: Watch, from: string, messages: Message[]): void {
    const waiters = watch.waiters;
    if (waiters.size === 0) return;
    // Swap first: a waiter that subscribes again while being answered must wait for the next message.
    watch.waiters = new Set();
    const batches = new Map<string, Batch | undefined>([[from, { messages, missed: false, cursor: watch.position }]]);
    let answered = 0;
    for (const pending of waiters) {
      const cursor = pending.cursor!;
      let batch = batches.get(cursor);
      if (!batches.has(cursor)) {
        const after = messages.filter((message) => compareStreamIds(message.id, cursor) > 0);
        batch = after.length > 0 ? { messages: after, missed: false, cursor: watch.position } : undefined;
        batches.set(cursor, batch);
      }
      if (batch) {
        answered++;
        this.#deliver(pending, batch);
      } else {
        watch.waiters.add(pending);
      }
    }
    this.#left(watch, answered);
  }

  #deliver(pending: Pending, batch: Batch): void {
    if (!pending.settle()) return;
    this.#delivered += batch.messages.length;
    pending.waiter.deliver(batch);
  }

  #release(pending: Pending): void {
    if (pending.settle()) pending.waiter.release();
  }
}

/** Checks `since` at once: a malformed cursor is refused before Redis is asked anything. */
function parseSince(since: string | undefined): Start {
  if (since === undefined) return 'none';
  if (since === OLDEST) return 'oldest';
  if (!isStreamId(since)) throw new InvalidCursorError('cursor is malformed');
  return since;
}

/**
 * What one read of a stream means for a start: a batch to answer with at
 * once, or nothing yet; and the cursor the wait starts from. The rules are the
 * in-memory hub's: `since=0` always answers (empty, with the position, when
 * there is nothing); a cursor before the trimmed part is `missed`; one ahead
 * of the stream is refused.
 */
export function interpret(state: StreamState, start: Start): { batch?: Batch; cursor: string } {
  const messages = state.entries.map(toMessage);
  const cursor = messages.length > 0 ? messages[messages.length - 1]!.id : state.last;
  if (start === 'none') return { cursor: state.last };
  if (start === 'oldest') return { batch: { messages, missed: false, cursor }, cursor: ZERO_ID };
  if (compareStreamIds(start, state.last) > 0) throw new InvalidCursorError('cursor is ahead of this channel');
  const missed = compareStreamIds(start, state.dropped) < 0;
  if (messages.length > 0 || missed) return { batch: { messages, missed, cursor }, cursor: start };
  return { cursor: start };
}

function toMessage(entry: StoredEntry): Message {
  return entry.from ? { id: entry.id, text: entry.text, time: streamIdTime(entry.id), from: entry.from } : { id: entry.id, text: entry.text, time: streamIdTime(entry.id) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
