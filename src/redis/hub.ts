import { BatchCache } from '../batch-cache.js';
import type { BatchShelf } from '../batch-cache.js';
import { HubClosedError, HubFullError, InvalidCursorError, KeyReusedError, StorageUnavailableError } from '../hub.js';
import type { Hub, HubStats, PublishResult, Subscription, Waiter } from '../hub.js';
import { FALLBACK } from '../log.js';
import type { Logger } from '../log.js';
import { OLDEST } from '../protocol.js';
import type { Batch, From, Message } from '../protocol.js';
import { releaseAll, Settled } from '../settled.js';
import { createCommandConnection, createReaderConnection, redactUrl, RedisStore } from './store.js';
import type { StoredEntry, StreamState } from './store.js';
import { compareStreamIds, formatCursor, parseCursor, streamIdOf, streamIdTime, ZERO_ID } from './stream-id.js';
import type { StreamCursor } from './stream-id.js';
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
  /** Bytes of batches (encodings included, at their worst case) kept for clients resuming from the same place. Default 16 MiB. */
  batchCacheBytes?: number;
  /** Where Redis going down and coming back is logged. Default warnings and errors on stdout. */
  log?: Logger;
  /** How long a channel no poll waits on or resumes in stays watched, in ms. Default 10 000. */
  lingerMs?: number;
}

/** How long the first connection may take before `open()` gives up. */
const OPEN_TIMEOUT_MS = 5_000;
/**
 * A channel no poll waited on or resumed in stays watched this long by
 * default: long polls come straight back, and re-issuing the blocking read for
 * every poll would cost more than reading a channel nobody waits on for a while.
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

/** `since` as the hub reads it: `'none'` (the next message), `'oldest'` (`since=0`), or a cursor. */
type Start = 'none' | 'oldest' | StreamCursor;

/**
 * A channel this instance reads for its waiters. Every entry of the stream
 * of `epoch` up to `position` has been read; `recent` holds every entry in
 * (`from`, `position`], so a cursor of that epoch in that span is answered
 * from memory. `epoch` is `''` while the channel has no stream.
 */
interface Watch {
  epoch: string;
  position: string;
  /** `position` as a cursor of `epoch`: made once per read, not once per poll that resumes there. */
  cursor: string;
  from: string;
  recent: Message[];
  waiters: Set<Pending>;
  /** Batches answered from `recent` since it last changed, by cursor: clients resuming together share one. */
  readonly batches: BatchShelf<string>;
  /** When its last waiter left (or it was made); with no waiter, it is dropped once this is `lingerMs` old. */
  idleSince: number;
  /** A poll was answered from `recent` since the reader last looked: the watch is in use, waiters or not. */
  used: boolean;
}

/** A subscription: being set up against Redis, parked on a watch, or answered. */
class Pending extends Settled implements Subscription {
  cursor: string | undefined;
  /** The stream id of `cursor`, once known. */
  at: string | undefined;
  readonly channel: string;
  readonly #hub: RedisHub;

  constructor(hub: RedisHub, channel: string, waiter: Waiter) {
    super(waiter);
    this.#hub = hub;
    this.channel = channel;
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
  readonly #log: Logger;
  readonly #historyLimit: number;
  readonly #maxChannels: number;
  readonly #lingerMs: number;
  readonly #recent: number;
  readonly #watches = new Map<string, Watch>();
  readonly #cache: BatchCache;
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
    const { url, historyLimit = 1000, maxChannels = 10_000, batchCacheBytes = 16 * 1024 * 1024, lingerMs = LINGER_MS } = options;
    if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) throw new TypeError('url must be a redis:// or rediss:// URL');
    for (const [key, value] of Object.entries({ historyLimit, maxChannels, lingerMs })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${key} must be a whole number of at least 1, got ${value}`);
    }
    this.#url = url;
    this.#log = options.log ?? FALLBACK;
    this.#historyLimit = historyLimit;
    this.#maxChannels = maxChannels;
    this.#lingerMs = lingerMs;
    this.#recent = Math.min(RECENT, historyLimit);
    this.#cache = new BatchCache(batchCacheBytes);
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
    const message: Message = { id: formatCursor(outcome.epoch, outcome.id), text, time: streamIdTime(outcome.id), ...(from && { from }) };
    return { message, repeated: outcome.kind === 'repeated' };
  }

  subscribe(channel: string, since: string | undefined, waiter: Waiter): Subscription {
    const watch = this.#watches.get(channel);
    // The cursor this instance hands out for the head, as nearly every long poll brings back after an answer: no parsing.
    const start: Start = watch !== undefined && since === watch.cursor ? { epoch: watch.epoch, id: watch.position } : parseSince(since);
    const pending = new Pending(this, channel, waiter);
    if (this.#closed) {
      queueMicrotask(() => pending.release());
      return pending;
    }
    // What the watch holds is served from memory even while Redis is away: a client resuming where
    // the reader stands parks like the polls already parked, and the reader catches up on return.
    if (!(watch && this.#fromMemory(watch, pending, start))) void this.#resolve(pending, start, 1);
    return pending;
  }

  async read(channel: string, since: string | undefined): Promise<Batch> {
    const start = parseSince(since);
    const { batch, epoch, at } = interpret(await this.#readStore(channel, start), start);
    return batch ?? { messages: [], missed: false, cursor: formatCursor(epoch, at) };
  }

  stats(): HubStats {
    return {
      waiting: this.#waiting,
      channels: this.#watches.size,
      published: this.#published,
      delivered: this.#delivered,
      bytes: 0,
      storage: { kind: 'redis', up: this.#up() },
    };
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
      // Clients that come back after the next message was read are answered from memory without ever parking:
      // their channel is in use all the same, and dropping it would send each of their polls to Redis instead.
      if (watch.used) {
        watch.used = false;
        watch.idleSince = now;
      }
      if (watch.waiters.size === 0 && now - watch.idleSince > this.#lingerMs) this.#unwatch(channel, watch);
      else positions.set(channel, watch.position);
    }
    return positions;
  }

  /**
   * @internal new entries from the reader, read after `from`. Entries the
   * reader never saw may have gone between two reads (trimmed, or the whole
   * stream replaced): the first entry names its predecessor and its epoch,
   * so such a gap is told as `missed`, and memory starts over after it.
   */
  entries(channel: string, entries: readonly StoredEntry[], from: string): void {
    const watch = this.#watches.get(channel);
    // A watch made anew since the read was issued may start elsewhere: only a read from its own position is contiguous with it.
    if (!watch || watch.position !== from || entries.length === 0) return;
    const first = entries[0]!;
    // A stream's first entry continues a watch that saw no stream (epoch ''): nothing came before it.
    const reset = first.epoch !== undefined && first.epoch !== watch.epoch && watch.epoch !== '';
    const gap = reset || (first.prev !== undefined && compareStreamIds(first.prev, from) > 0);
    if (first.epoch !== undefined) watch.epoch = first.epoch;
    const messages = entries.map((entry) => toMessage(entry, watch.epoch));
    watch.position = entries[entries.length - 1]!.id;
    watch.cursor = messages[messages.length - 1]!.id;
    if (gap) {
      watch.recent = [];
      watch.from = first.prev!;
    }
    watch.recent.push(...messages);
    if (watch.recent.length > this.#recent) watch.from = streamIdOf(watch.recent.splice(0, watch.recent.length - this.#recent).pop()!.id);
    watch.batches.clear();
    // What a waiter at `from` gets, parked now or resuming there a moment later (a long poll the last read answered,
    // coming back while the next read is out): one batch for all of them, and so one encoding.
    const batch: Batch = { messages, missed: gap, cursor: watch.cursor };
    if (!gap && compareStreamIds(from, watch.from) >= 0) watch.batches.put(from, batch);
    this.#wake(watch, from, batch, reset ? undefined : gap ? first.prev! : from);
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
    const ready = Promise.all(
      [command, reader].map((client) => {
        client.connect().catch(() => undefined); // retried by the connection's retryStrategy; readiness is awaited below
        return client.status === 'ready' ? undefined : new Promise((resolve) => client.once('ready', resolve));
      }),
    );
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
      // Counted off before any is released: a released waiter may cancel others (a set of channels), which counts them off too.
      this.#waiting -= waiters.size;
      releaseAll(waiters);
    }
    for (const [channel, watch] of this.#watches) this.#unwatch(channel, watch);
    await this.#opening?.catch(() => undefined);
    await Promise.all([this.#reader?.close(), this.#closeConnections()]);
  }

  /** One read of the channel for a start: after the cursor, or everything kept when the cursor is of another epoch. */
  #readStore(channel: string, start: Start): Promise<StreamState> {
    return typeof start === 'string'
      ? this.#requireStore().read(channel, start)
      : this.#requireStore().read(channel, start.id, start.epoch);
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
    if (down)
      this.#log.error(
        { event: 'redis', up: false, url: redactUrl(this.#url) },
        'Redis is unavailable; publishes and new polls get 503 until it is back',
      );
    else this.#log.info({ event: 'redis', up: true, url: redactUrl(this.#url) }, 'Redis is back');
  }

  /**
   * Answers or parks a subscription from the watch's memory, when its cursor
   * lies in the span the watch holds; false when Redis has to be asked.
   */
  #fromMemory(watch: Watch, pending: Pending, start: Start): boolean {
    if (start === 'oldest') return false;
    // A cursor of another epoch is for Redis to judge: the stream was replaced, or this watch has yet to notice it was.
    if (start !== 'none' && start.epoch !== '' && start.epoch !== watch.epoch) return false;
    const cursor = start === 'none' ? watch.position : start.id;
    // Resuming at the head, as nearly every long poll does after an answer: park, nothing to compare or make.
    if (cursor === watch.position) {
      pending.at = cursor;
      pending.cursor = watch.cursor;
      this.#park(watch, pending);
      return true;
    }
    if (compareStreamIds(cursor, watch.from) < 0 || compareStreamIds(cursor, watch.position) > 0) return false;
    pending.at = cursor;
    pending.cursor = formatCursor(watch.epoch, cursor);
    watch.used = true;
    let ready = watch.batches.get(cursor);
    if (!ready) {
      const messages = watch.recent.filter((message) => compareStreamIds(streamIdOf(message.id), cursor) > 0);
      ready = watch.batches.put(cursor, { messages, missed: false, cursor: watch.cursor });
    }
    // Never answer from inside subscribe(): the caller is still setting up.
    queueMicrotask(() => this.#deliver(pending, ready));
    return true;
  }

  /** Sets a subscription up from Redis: read the channel, then answer or park. */
  async #resolve(pending: Pending, start: Start, attempt: number): Promise<void> {
    let found: Found;
    try {
      found = interpret(await this.#readStore(pending.channel, start), start);
    } catch (error) {
      if (this.#closed) pending.release();
      else pending.fail(error as Error);
      return;
    }
    if (pending.done) return;
    if (this.#closed) return pending.release();
    pending.at = found.at;
    pending.cursor = formatCursor(found.epoch, found.at);
    if (found.batch) {
      pending.waiter.started?.();
      this.#deliver(pending, found.batch);
      return;
    }
    let watch = this.#watches.get(pending.channel);
    // A watch that saw no stream takes the epoch of the first entry it reads: a cursor of that epoch can wait on it.
    if (watch && watch.epoch !== '' && watch.epoch !== found.epoch) {
      // Either the stream was replaced and the reader has yet to see a new entry, or this read is older than what the
      // reader saw: read again; a watch that still disagrees with Redis is stale, and starts over where Redis stands.
      if (attempt < RESOLVE_TRIES) return this.#resolve(pending, start, attempt + 1);
      this.#restart(pending.channel, watch, found.epoch, found.at);
    }
    if (watch && compareStreamIds(found.at, watch.position) < 0) {
      // The reader read past this cursor while Redis was being asked: what it read may be what this waiter needs.
      const cursor = { epoch: found.epoch, id: found.at };
      if (this.#fromMemory(watch, pending, cursor)) return pending.waiter.started?.();
      if (attempt < RESOLVE_TRIES) return this.#resolve(pending, cursor, attempt + 1);
      pending.fail(new StorageUnavailableError('the channel moved too fast to start from this cursor'));
      return;
    }
    watch ??= this.#watch(pending.channel, found.epoch, found.at);
    if (!watch) {
      pending.fail(new HubFullError('too many channels are in use'));
      return;
    }
    this.#park(watch, pending);
    pending.waiter.started?.();
  }

  /** Starts watching a channel from `position` of `epoch`; undefined when every watched channel has waiters. */
  #watch(channel: string, epoch: string, position: string): Watch | undefined {
    if (this.#watches.size >= this.#maxChannels && !this.#dropIdleWatch()) return undefined;
    const watch: Watch = {
      epoch,
      position,
      cursor: formatCursor(epoch, position),
      from: position,
      recent: [],
      waiters: new Set(),
      batches: this.#cache.shelf(),
      idleSince: Date.now(),
      used: false,
    };
    this.#watches.set(channel, watch);
    this.#reader?.changed(channel);
    return watch;
  }

  /**
   * A watch found to follow a stream Redis no longer has: it starts over at
   * `position` of `epoch`, and its waiters learn that what followed their
   * cursors is gone.
   */
  #restart(channel: string, watch: Watch, epoch: string, position: string): void {
    const from = watch.position;
    watch.epoch = epoch;
    watch.position = position;
    watch.cursor = formatCursor(epoch, position);
    watch.from = position;
    watch.recent = [];
    watch.batches.clear();
    this.#wake(watch, from, { messages: [], missed: true, cursor: watch.cursor }, undefined);
    this.#reader?.changed(channel, true);
  }

  #dropIdleWatch(): boolean {
    for (const [channel, watch] of this.#watches) {
      if (watch.waiters.size === 0) return this.#unwatch(channel, watch);
    }
    return false;
  }

  #unwatch(channel: string, watch: Watch): boolean {
    watch.batches.clear();
    return this.#watches.delete(channel);
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
   * old position `from` (nearly all) share `batch`; one parked further on gets
   * only what follows its cursor, or stays. `intact` is the id after which
   * nothing was lost (a waiter before it is told `missed`); undefined when
   * the stream was replaced, so that every waiter missed something.
   */
  #wake(watch: Watch, from: string, batch: Batch, intact: string | undefined): void {
    const waiters = watch.waiters;
    if (waiters.size === 0) return;
    // Swap first: a waiter that subscribes again while being answered must wait for the next message.
    watch.waiters = new Set();
    const { messages } = batch;
    const missedAfter = (at: string) => intact === undefined || compareStreamIds(at, intact) < 0;
    const batches = new Map<string, Batch | undefined>([[from, batch]]);
    let answered = 0;
    for (const pending of waiters) {
      const cursor = pending.at!;
      let answer = batches.get(cursor);
      if (!batches.has(cursor)) {
        const after = intact === undefined ? messages : messages.filter((message) => compareStreamIds(streamIdOf(message.id), cursor) > 0);
        const missed = missedAfter(cursor);
        answer = after.length > 0 || missed ? { messages: after, missed, cursor: watch.cursor } : undefined;
        batches.set(cursor, answer);
      }
      if (answer) {
        answered++;
        this.#deliver(pending, answer);
      } else {
        watch.waiters.add(pending);
      }
    }
    this.#left(watch, answered);
  }

  #deliver(pending: Pending, batch: Batch): void {
    this.#delivered += pending.deliver(batch);
  }
}

/** Checks `since` at once: a malformed cursor is refused before Redis is asked anything. */
function parseSince(since: string | undefined): Start {
  if (since === undefined) return 'none';
  if (since === OLDEST) return 'oldest';
  const cursor = parseCursor(since);
  if (!cursor) throw new InvalidCursorError('cursor is malformed');
  return cursor;
}

/** What one read means for a start: a batch to answer with at once (or nothing yet), and the cursor the wait starts from. */
interface Found {
  readonly batch?: Batch;
  /** The stream's epoch, which the cursor `at` belongs to. */
  readonly epoch: string;
  readonly at: string;
}

/**
 * What one read of a stream means for a start. The rules are the in-memory
 * hub's: `since=0` always answers (empty, with the position, when there is
 * nothing); a cursor before the trimmed part is `missed`; one ahead of the
 * stream is refused. A cursor of another epoch — the stream was lost and
 * made again, or is gone — is what a cursor from an earlier run is there:
 * everything kept, and `missed`. So is one of this epoch ahead of the
 * stream but not of Redis's clock: the stream lost its newest entries in
 * place (a replica promoted before it had them); only a cursor from the
 * future could never have been handed out. A bare stream id (an empty
 * channel's position, or a cursor from before epochs) is taken in whatever
 * epoch the stream has.
 */
export function interpret(state: StreamState, start: Start): Found {
  const messages = state.entries.map((entry) => toMessage(entry, state.epoch));
  const cursor = messages.length > 0 ? messages[messages.length - 1]!.id : formatCursor(state.epoch, state.last);
  if (start === 'none') return { epoch: state.epoch, at: state.last };
  if (start === 'oldest') return { batch: { messages, missed: false, cursor }, epoch: state.epoch, at: ZERO_ID };
  if (start.epoch !== '' && start.epoch !== state.epoch)
    return { batch: { messages, missed: true, cursor }, epoch: state.epoch, at: ZERO_ID };
  if (compareStreamIds(start.id, state.last) > 0) {
    if (streamIdTime(start.id) > state.now) throw new InvalidCursorError('cursor is ahead of this channel');
    return { batch: { messages: [], missed: true, cursor }, epoch: state.epoch, at: state.last };
  }
  const missed = compareStreamIds(start.id, state.dropped) < 0;
  if (messages.length > 0 || missed) return { batch: { messages, missed, cursor }, epoch: state.epoch, at: start.id };
  return { epoch: state.epoch, at: start.id };
}

function toMessage(entry: StoredEntry, epoch: string): Message {
  const message = { id: formatCursor(epoch, entry.id), text: entry.text, time: streamIdTime(entry.id) };
  return entry.from ? { ...message, from: entry.from } : message;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
