/**
 * Channels as Redis Streams, over the command connection: the keys of a
 * channel, the two Lua scripts (publish, read), and the connection settings
 * both of pollcast's connections share. `ioredis` is loaded here, and only
 * when a Redis URL is given.
 */
import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { StorageUnavailableError } from '../hub.js';
import { redisCommand } from '../metrics.js';
import { decodeFrom, encodeFrom } from '../protocol.js';
import type { From } from '../protocol.js';

/**
 * One stream entry as pollcast stores it: the id Redis gave it, the text
 * (field `t`), the id of the entry before it in the stream (field `p`;
 * `0-0` for a stream's first), and the epoch of the stream it was added to
 * (field `e`); the last two are absent from entries stored before epochs.
 * Its author, when it has one, is field `f` (JSON).
 */
export interface StoredEntry {
  readonly id: string;
  readonly text: string;
  readonly prev?: string;
  readonly epoch?: string;
  readonly from?: From;
}

/** A channel as one read sees it, atomically. */
export interface StreamState {
  /** The epoch of the channel's stream; `''` when there is no stream. */
  readonly epoch: string;
  /** The id of the newest entry; `0-0` when there is none. */
  readonly last: string;
  /** The newest id trimmed away (entries up to it are lost); `0-0` when none was. */
  readonly dropped: string;
  /** Redis's clock at the read, in ms since the epoch: no id it handed out can be later. */
  readonly now: number;
  /** The entries after the cursor asked for, oldest first. */
  readonly entries: readonly StoredEntry[];
}

/** What a publish did: stored a new entry, answered a repeated key, or refused a key used for other text. */
export type PublishOutcome =
  | { readonly kind: 'stored' | 'repeated'; readonly id: string; readonly epoch: string }
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
 * The stream's epoch is made with its first entry: a stream that is gone
 * (a `FLUSHALL`, a failover that lost it) starts a new epoch, and what was
 * kept beside it (trim point, keys) goes, since it described the old one.
 * Each entry records its predecessor and its epoch, so a reader can tell
 * that entries it never saw were trimmed (or the stream replaced) between
 * two of its reads.
 *
 * KEYS: stream, dropped-through, keys (hash: key → "id sha1(text)"), key order (list), epoch.
 * ARGV: text, history limit, idempotency key ('' for none), a new epoch should one be needed,
 * author ('' for none).
 * Returns {id, 0, epoch} stored, {id, 1, epoch} repeated, {'', 2, epoch} key used for another text.
 */
const PUBLISH = `
local prev = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local epoch = redis.call('GET', KEYS[5])
if not prev then
  epoch = ARGV[4]
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  redis.call('SET', KEYS[5], epoch)
elseif not epoch then
  epoch = ARGV[4]
  redis.call('SET', KEYS[5], epoch)
end
local key = ARGV[3]
local digest = ''
if key ~= '' then
  digest = redis.sha1hex(ARGV[1])
  local earlier = redis.call('HGET', KEYS[3], key)
  if earlier then
    local id, seen = string.match(earlier, '^(%S+) (%x+)$')
    if seen ~= digest then return {'', 2, epoch} end
    return {id, 1, epoch}
  end
end
local limit = tonumber(ARGV[2])
local excess = redis.call('XLEN', KEYS[1]) + 1 - limit
if excess > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  redis.call('SET', KEYS[2], gone[#gone][1])
end
local fields = {'t', ARGV[1], 'p', prev and prev[1] or '0-0', 'e', epoch}
if ARGV[5] ~= '' then
  fields[#fields + 1] = 'f'
  fields[#fields + 1] = ARGV[5]
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', limit, '*', unpack(fields))
if key ~= '' then
  redis.call('HSET', KEYS[3], key, id .. ' ' .. digest)
  if redis.call('RPUSH', KEYS[4], key) > limit then
    redis.call('HDEL', KEYS[3], redis.call('LPOP', KEYS[4]))
  end
end
return {id, 0, epoch}
`;

/**
 * A channel's epoch, position, how far it was trimmed, the entries after a
 * cursor, and Redis's clock, read atomically so they agree. A cursor of another epoch gets
 * every entry kept. A stream without an epoch (stored before epochs) is
 * given one here; a missing stream has none, and nothing is made for it, so
 * reading a channel that has no stream stores nothing.
 *
 * Entries come back as `{id, text, author}`: their predecessor and epoch fields are
 * for the blocking reader (which gets them from `XREAD`); this read has the
 * epoch and the trim point for all its entries at once, and its reply stays
 * the size it was before those fields.
 *
 * KEYS: stream, dropped-through, epoch.
 * ARGV: start ('-', '+' or '(' .. cursor), count, the cursor's epoch ('' for none), a new epoch should one be needed.
 * Returns {epoch, last id, dropped-through, entries, now in ms}.
 */
const READ = `
local time = redis.call('TIME')
local now = time[1] .. string.format('%03d', math.floor(tonumber(time[2]) / 1000))
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if not last then return {'', '0-0', '0-0', {}, now} end
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = ARGV[4]
  redis.call('SET', KEYS[3], epoch)
end
local start = ARGV[1]
if ARGV[3] ~= '' and ARGV[3] ~= epoch then start = '-' end
local dropped = redis.call('GET', KEYS[2]) or '0-0'
local entries = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', ARGV[2])
for i, entry in ipairs(entries) do
  local fields = entry[2]
  local text, from = '', ''
  for j = 1, #fields, 2 do
    if fields[j] == 't' then text = fields[j + 1] elseif fields[j] == 'f' then from = fields[j + 1] end
  end
  entries[i] = {entry[1], text, from}
end
return {epoch, last[1], dropped, entries, now}
`;

interface Scripts {
  pollcastPublish(
    stream: string,
    dropped: string,
    keys: string,
    order: string,
    epoch: string,
    text: string,
    limit: number,
    key: string,
    newEpoch: string,
    from: string,
  ): Promise<[string, number, string]>;
  pollcastRead(
    stream: string,
    dropped: string,
    epoch: string,
    start: string,
    count: number,
    cursorEpoch: string,
    newEpoch: string,
  ): Promise<[string, string, string, [id: string, text: string, from: string][], string]>;
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
  client.defineCommand('pollcastPublish', { numberOfKeys: 5, lua: PUBLISH });
  client.defineCommand('pollcastRead', { numberOfKeys: 3, lua: READ });
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
    const [id, status, epoch] = await unavailableOnError(
      redisCommand(
        'publish',
        this.#scripts.pollcastPublish(
          stream,
          `${stream}:dropped`,
          `${stream}:keys`,
          `${stream}:key-order`,
          `${stream}:epoch`,
          text,
          this.#historyLimit,
          key ?? '',
          newEpoch(),
          from ? encodeFrom(from) : '',
        ),
      ),
    );
    if (status === 2) return { kind: 'reused' };
    return { kind: status === 1 ? 'repeated' : 'stored', id, epoch };
  }

  /**
   * The channel's state and its entries after `after`: all of them for
   * `'oldest'`, none for `'none'` (just the position), else those after that
   * id — or all of them when `epoch` (the cursor's, `''` for none) is not
   * the stream's.
   */
  async read(channel: string, after: string, epoch = ''): Promise<StreamState> {
    const stream = streamKey(channel);
    const start = after === 'oldest' ? '-' : after === 'none' ? '+' : `(${after}`;
    const [current, last, dropped, raw, now] = await unavailableOnError(
      redisCommand(
        'read',
        this.#scripts.pollcastRead(stream, `${stream}:dropped`, `${stream}:epoch`, start, this.#historyLimit, epoch, newEpoch()),
      ),
    );
    return { epoch: current, last, dropped, entries: raw.map(([id, text, from]) => toStored(id, text, from)), now: Number(now) };
  }

  /** Ends the blocking command of the connection with this id (returns whether one was blocked). */
  async unblock(clientId: number): Promise<boolean> {
    return (await unavailableOnError(this.#client.call('CLIENT', 'UNBLOCK', clientId))) === 1;
  }
}

/** A raw stream entry as pollcast's own: the text is field `t`, the previous id `p`, the epoch `e`, the author `f`. */
export function toEntry([id, fields]: RawEntry): StoredEntry {
  let text = '';
  let prev: string | undefined;
  let epoch: string | undefined;
  let from: From | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 't') text = fields[i + 1]!;
    else if (fields[i] === 'p') prev = fields[i + 1];
    else if (fields[i] === 'e') epoch = fields[i + 1];
    else if (fields[i] === 'f') from = decodeFrom(fields[i + 1]);
  }
  const entry = prev === undefined || epoch === undefined ? { id, text } : { id, text, prev, epoch };
  return from ? { ...entry, from } : entry;
}

/** An entry of the read script's reply. */
function toStored(id: string, text: string, raw: string): StoredEntry {
  const from = decodeFrom(raw);
  return from ? { id, text, from } : { id, text };
}

/** Random bytes per epoch token (12 hex digits). */
const EPOCH_BYTES = 6;
/** Tokens drawn from the system's random source at once. */
const EPOCH_POOL = 512;
let epochPool = '';
let epochNext = 0;

/**
 * A token for a new epoch: random, so that a stream made again after Redis
 * lost it cannot take the name of the one clients hold cursors for. Every
 * publish and read offers one, though a script takes it only when the stream
 * has none; one `randomBytes` call costs about as much as the rest of a
 * publish here (34 µs on the bench machine), so tokens are drawn 512 at a
 * time, each still used once.
 */
export function newEpoch(): string {
  if (epochNext >= epochPool.length) {
    epochPool = randomBytes(EPOCH_BYTES * EPOCH_POOL).toString('hex');
    epochNext = 0;
  }
  epochNext += EPOCH_BYTES * 2;
  return epochPool.slice(epochNext - EPOCH_BYTES * 2, epochNext);
}

async function unavailableOnError<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    throw new StorageUnavailableError(`redis: ${(error as Error).message}`);
  }
}
