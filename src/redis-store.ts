/**
 * Channels as Redis Streams, over the command connection: the keys of a
 * channel, the two Lua scripts (publish, read), and the connection settings
 * both of pollcast's connections share. `ioredis` is loaded here, and only
 * when a Redis URL is given.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { StorageUnavailableError } from './hub.js';
import { decodeFrom, encodeFrom } from './protocol.js';
import type { From } from './protocol.js';

/** One stream entry as pollcast stores it: the id Redis gave it, the text (field `t`) and its author (field `f`, JSON). */
export interface StoredEntry {
  readonly id: string;
  readonly text: string;
  readonly from?: From;
}

/** A channel as one read sees it, atomically. */
export interface StreamState {
  /** The id of the newest entry; `0-0` when there is none. */
  readonly last: string;
  /** The newest id trimmed away (entries up to it are lost); `0-0` when none was. */
  readonly dropped: string;
  /** The entries after the cursor asked for, oldest first. */
  readonly entries: readonly StoredEntry[];
}

/** What a publish did: stored a new entry, answered a repeated key, or refused a key used for other text. */
export type PublishOutcome =
  | { readonly kind: 'stored' | 'repeated'; readonly id: string }
  | { readonly kind: 'reused' };

/** A stream entry as Redis replies with it (RESP2): `[id, [field, value, …]]`. */
export type RawEntry = [id: string, fields: string[]];

/** How many keys prefix every channel's name; all of one channel's keys share its hash tag. */
export const KEY_PREFIX = 'pollcast:';

/**
 * The stream of a channel. The braces are a Redis Cluster hash tag: a
 * channel's keys all live in one slot, which its scripts need.
 */
export function streamKey(channel: string): string {
  return `${KEY_PREFIX}{${channel}}`;
}

/** The channel of a stream key made by `streamKey`. */
export function channelOfKey(key: string): string {
  return key.slice(KEY_PREFIX.length + 1, -1);
}

/**
 * Stores a message, trimming the stream to the history limit, and remembers
 * its idempotency key — all in one script, so that two instances given the
 * same key at once cannot both store. The trim is exact (`MAXLEN N`, not
 * `~`): the id of the newest entry trimmed away is recorded on the way, which
 * is what tells a resuming client whether it missed anything (Redis 7.0's
 * `max-deleted-entry-id` does not follow trimming). Keys are remembered for as
 * many keyed publishes as the history holds, like the in-memory hub.
 *
 * KEYS: stream, dropped-through, keys (hash: key → "id sha1(text)"), key order (list).
 * ARGV: text, history limit, idempotency key ('' for none), author ('' for none).
 * Returns {id, 0} stored, {id, 1} repeated, {'', 2} key used for another text.
 */
const PUBLISH = `
local key = ARGV[3]
local digest = ''
if key ~= '' then
  digest = redis.sha1hex(ARGV[1])
  local earlier = redis.call('HGET', KEYS[3], key)
  if earlier then
    local id, seen = string.match(earlier, '^(%S+) (%x+)$')
    if seen ~= digest then return {'', 2} end
    return {id, 1}
  end
end
local limit = tonumber(ARGV[2])
local excess = redis.call('XLEN', KEYS[1]) + 1 - limit
if excess > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  redis.call('SET', KEYS[2], gone[#gone][1])
end
local id
if ARGV[4] ~= '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', limit, '*', 't', ARGV[1], 'f', ARGV[4])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', limit, '*', 't', ARGV[1])
end
if key ~= '' then
  redis.call('HSET', KEYS[3], key, id .. ' ' .. digest)
  if redis.call('RPUSH', KEYS[4], key) > limit then
    redis.call('HDEL', KEYS[3], redis.call('LPOP', KEYS[4]))
  end
end
return {id, 0}
`;

/**
 * A channel's position, how far it was trimmed, and the entries after a
 * cursor, read atomically so the three agree.
 *
 * KEYS: stream, dropped-through. ARGV: start ('-' or '(' .. cursor), count.
 */
const READ = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local dropped = redis.call('GET', KEYS[2]) or '0-0'
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
return {last[1] and last[1][1] or '0-0', dropped, entries}
`;

interface Scripts {
  pollcastPublish(stream: string, dropped: string, keys: string, order: string, text: string, limit: number, key: string, from: string): Promise<[string, number]>;
  pollcastRead(stream: string, dropped: string, start: string, count: number): Promise<[string, string, RawEntry[]]>;
}

/**
 * Settings for both connections. Without an offline queue a command sent
 * while Redis is away fails at once (→ 503) instead of hanging until Redis
 * returns; commands in flight when the connection drops fail too rather than
 * being sent again (a resent publish could be stored twice). Reconnection
 * goes on for ever, backing off to one try a second.
 */
const CONNECTION: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  retryStrategy: (times) => Math.min(50 * 2 ** times, 1_000),
  connectTimeout: 2_000,
  protocol: 2,
  disableClientInfo: true,
};

/** How long a command may take before it counts as Redis being unavailable. */
const COMMAND_TIMEOUT_MS = 2_000;

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** Creates the command connection (not yet connected), with the scripts defined on it. */
export async function createCommandConnection(url: string): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { ...CONNECTION, commandTimeout: COMMAND_TIMEOUT_MS, connectionName: 'pollcast' });
  client.defineCommand('pollcastPublish', { numberOfKeys: 4, lua: PUBLISH });
  client.defineCommand('pollcastRead', { numberOfKeys: 2, lua: READ });
  return client;
}

/** A second connection for blocking reads: no command timeout, since a read blocks on purpose. */
export function createReaderConnection(command: Redis): Redis {
  return command.duplicate({ ...CONNECTION, commandTimeout: undefined, connectionName: 'pollcast-reader' });
}

/** The commands pollcast sends on the command connection; any failure of Redis becomes `StorageUnavailableError`. */
export class RedisStore {
  readonly #client: Redis;
  readonly #scripts: Scripts;
  readonly #historyLimit: number;

  constructor(client: Redis, historyLimit: number) {
    this.#client = client;
    // defineCommand added the methods at run time; the type cannot know them.
    this.#scripts = client as unknown as Scripts;
    this.#historyLimit = historyLimit;
  }

  async publish(channel: string, text: string, key: string | undefined, from?: From): Promise<PublishOutcome> {
    const stream = streamKey(channel);
    const [id, status] = await unavailableOnError(this.#scripts.pollcastPublish(stream, `${stream}:dropped`, `${stream}:keys`, `${stream}:key-order`, text, this.#historyLimit, key ?? '', from ? encodeFrom(from) : ''));
    if (status === 2) return { kind: 'reused' };
    return { kind: status === 1 ? 'repeated' : 'stored', id };
  }

  /**
   * The channel's state and its entries after `after`: all of them for
   * `'oldest'`, none for `'none'` (just the position), else those after that id.
   */
  async read(channel: string, after: string): Promise<StreamState> {
    const stream = streamKey(channel);
    const start = after === 'oldest' ? '-' : after === 'none' ? '+' : `(${after}`;
    const [last, dropped, raw] = await unavailableOnError(this.#scripts.pollcastRead(stream, `${stream}:dropped`, start, this.#historyLimit));
    return { last, dropped, entries: raw.map(toEntry) };
  }

  /** Ends the blocking command of the connection with this id (returns whether one was blocked). */
  async unblock(clientId: number): Promise<boolean> {
    return (await unavailableOnError(this.#client.call('CLIENT', 'UNBLOCK', clientId))) === 1;
  }
}

/** A raw stream entry as pollcast's own: the text is field `t`, the author field `f`. */
export function toEntry([id, fields]: RawEntry): StoredEntry {
  const at = fields.indexOf('t');
  const text = at >= 0 && at % 2 === 0 ? fields[at + 1] ?? '' : '';
  let from: From | undefined;
  // Field names sit at even places: a text that reads "f" is a value, not the name.
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'f') from = decodeFrom(fields[i + 1]);
  return from ? { id, text, from } : { id, text };
}

async function unavailableOnError<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    throw new StorageUnavailableError(`redis: ${(error as Error).message}`);
  }
}
