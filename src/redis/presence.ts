/**
 * Presence shared by every instance through Redis: one sorted set per
 * channel (`pollcast:{channel}:presence`), each member an instance's entry
 * (`<instance> <from as JSON>`), scored by when it expires. Each instance
 * writes its own subscribers when they arrive and again every few seconds;
 * an instance that dies stops renewing them, and they expire on their own.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StorageUnavailableError } from '../hub.js';
import { fromKey } from '../http/identity.js';
import { LocalPresence, MAX_LISTED } from '../presence.js';
import type { Entry, Here, Presence, PresenceListener, PresenceStats } from '../presence.js';
import { decodeFrom, encodeFrom } from '../protocol.js';
import type { From } from '../protocol.js';
import { createCommandConnection, streamKey } from './store.js';

/** How often each instance renews its entries. */
const REFRESH_MS = 5_000;
/** A stream's entry lasts this long unless renewed: three renewals may fail before it goes. */
const TTL_MS = 3 * REFRESH_MS;

/** The sorted set of a channel's presence; it shares the channel's hash tag. */
export function presenceKey(channel: string): string {
  return `${streamKey(channel)}:presence`;
}

/** Presence in this process, mirrored to Redis, and read from Redis for every instance. */
export class RedisPresence implements Presence, PresenceListener {
  readonly #url: string;
  readonly #instance = randomBytes(6).toString('hex');
  readonly #local: LocalPresence;
  /** Each author's member string (`<instance> <from>`), made once: an author on several channels shares it. */
  readonly #members = new Map<string, string>();
  #client: Redis | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** Why the connection last failed, for the 503 that presence answers meanwhile. */
  #lastError = 'not yet connected';

  constructor(url: string, budget: number) {
    this.#url = url;
    this.#local = new LocalPresence(budget, this);
  }

  async open(): Promise<void> {
    const client = await createCommandConnection(this.#url);
    // Presence is best effort: a failure shows in `here()` as 503 with its reason, and the next renewal repairs the rest.
    client.on('error', (error: Error) => {
      this.#lastError = error.message;
    });
    await client.connect();
    this.#client = client;
    this.#timer = setInterval(() => void this.#refresh(), REFRESH_MS).unref();
  }

  hold(channel: string, from: From): () => void {
    return this.#local.hold(channel, from);
  }

  touch(channel: string, from: From, until: number): void {
    this.#local.touch(channel, from, until);
  }

  async here(channel: string): Promise<Here> {
    const client = this.#client;
    if (!client || client.status !== 'ready') throw new StorageUnavailableError(`redis is not connected (${this.#lastError})`);
    let members: string[];
    try {
      members = await client.zrangebyscore(presenceKey(channel), Date.now(), '+inf', 'LIMIT', 0, MAX_LISTED * 4);
    } catch (error) {
      throw new StorageUnavailableError(`redis: ${(error as Error).message}`);
    }
    const seen = new Map<string, From>();
    for (const member of members) {
      const from = decodeFrom(member.slice(member.indexOf(' ') + 1));
      if (from && seen.size < MAX_LISTED) seen.set(fromKey(from), from);
    }
    return { here: [...seen.values()] };
  }

  stats(): PresenceStats {
    return this.#local.stats();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const client = this.#client;
    if (!client) return;
    // Leave now rather than when the entries expire: other instances stop listing this one's subscribers.
    const pipeline = client.pipeline();
    for (const [channel, key] of this.#local.live()) pipeline.zrem(presenceKey(channel), this.#member(key));
    await Promise.race([pipeline.exec().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    client.disconnect();
  }

  /** @internal an author appeared here: tell the other instances now, not at the next renewal. */
  added(channel: string, key: string, entry: Entry): void {
    this.#members.set(key, `${this.#instance} ${encodeFrom(entry.from)}`);
    // The entry's `until` is set just after it is made: score it once that is known.
    queueMicrotask(() => void this.#write([[channel, key, entry]]));
  }

  /** @internal an author left this instance. */
  removed(channel: string, key: string): void {
    const member = this.#members.get(key);
    if (member === undefined) return;
    this.#client?.zrem(presenceKey(channel), member).catch(() => undefined);
  }

  #member(key: string): string {
    return this.#members.get(key) ?? '';
  }

  async #refresh(): Promise<void> {
    const live = [...this.#local.live()];
    // Forget member strings of authors no longer here anywhere.
    const keys = new Set(live.map(([, key]) => key));
    for (const key of this.#members.keys()) if (!keys.has(key)) this.#members.delete(key);
    await this.#write(live);
  }

  async #write(entries: readonly (readonly [string, string, Entry])[]): Promise<void> {
    const client = this.#client;
    if (!client || this.#closed || entries.length === 0 || client.status !== 'ready') return;
    const now = Date.now();
    const pipeline = client.pipeline();
    // Each channel's set expires with its longest-lived entry: a channel every instance left goes on its own.
    const channels = new Map<string, number>();
    for (const [channel, key, entry] of entries) {
      // A poll's later renewals reach Redis only with the next refresh: its score allows for that.
      const until = entry.holders > 0 ? now + TTL_MS : entry.until + REFRESH_MS;
      if (until <= now) continue;
      pipeline.zadd(presenceKey(channel), until, this.#member(key));
      channels.set(channel, Math.max(channels.get(channel) ?? 0, until));
    }
    for (const [channel, until] of channels) {
      pipeline.zremrangebyscore(presenceKey(channel), '-inf', now);
      // NX gives a new set its expiry; GT only ever extends it, so an instance never cuts another's entries short.
      pipeline.pexpire(presenceKey(channel), until - now + REFRESH_MS, 'NX');
      pipeline.pexpire(presenceKey(channel), until - now + REFRESH_MS, 'GT');
    }
    await pipeline.exec().catch(() => undefined);
  }
}
