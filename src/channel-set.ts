/**
 * Several channels on one connection: the set of channels a request names
 * and the cursor of each, as they travel in a query, in an event id and in a
 * JSON answer. Pure and free of Node imports, so the browser client can
 * compile it too.
 *
 * The query names the channels in `channels=a,b` (a parameter that may also
 * be repeated) and a cursor per channel in `since=a:CURSOR` (repeated, or
 * comma-separated). A cursor is everything after the first `:`, so cursors
 * that contain `:` and `-` travel intact; the hubs' cursors never contain `,`.
 */
import { CHANNEL_NAME, encodeBatch } from './protocol.js';
import type { Batch } from './protocol.js';

/** The query parameter that switches a request to the multi-channel form. */
export const CHANNELS_PARAM = 'channels';

/** Channels on one connection unless the server says otherwise (`--max-channels-per-connection`). */
export const DEFAULT_MAX_CHANNELS_PER_CONNECTION = 64;

/** The channels of one connection, in the order named, with the cursor given for each (if any). */
export interface ChannelSet {
  readonly channels: readonly string[];
  /** `since` per channel; a channel without one starts from now. */
  readonly since: ReadonlyMap<string, string>;
}

/** Why a set could not be read; `code` is the server's stable error code. */
export class ChannelSetError extends Error {
  override readonly name = 'ChannelSetError';
  readonly code: 'bad_channel' | 'bad_cursor' | 'too_many_subscriptions';

  constructor(code: ChannelSetError['code'], reason: string) {
    super(reason);
    this.code = code;
  }
}

/**
 * Reads the set from the values of `channels` and `since` (each possibly
 * repeated, each a comma-separated list). Throws `ChannelSetError` for a bad
 * or repeated name, more than `max` channels, a `since` that is not
 * `CHANNEL:CURSOR`, names a channel not in the set, or comes twice.
 */
export function parseChannelSet(channelValues: readonly string[], sinceValues: readonly string[], max: number): ChannelSet {
  const channels: string[] = [];
  const named = new Set<string>();
  for (const name of splitList(channelValues)) {
    if (!CHANNEL_NAME.test(name)) throw new ChannelSetError('bad_channel', 'channel names are 1 to 64 of A-Z a-z 0-9 _ -');
    if (named.has(name)) throw new ChannelSetError('bad_channel', 'a channel is named twice in channels=');
    named.add(name);
    channels.push(name);
    if (channels.length > max) throw new ChannelSetError('too_many_subscriptions', `at most ${max} channels on one connection`);
  }
  if (channels.length === 0) throw new ChannelSetError('bad_channel', 'channels= names no channel');
  const since = new Map<string, string>();
  for (const entry of splitList(sinceValues)) {
    const colon = entry.indexOf(':');
    const channel = entry.slice(0, colon);
    const cursor = entry.slice(colon + 1);
    if (colon < 1 || cursor === '') throw new ChannelSetError('bad_cursor', 'since= must be CHANNEL:CURSOR');
    if (!named.has(channel)) throw new ChannelSetError('bad_cursor', 'since= names a channel that channels= does not');
    if (since.has(channel)) throw new ChannelSetError('bad_cursor', 'since= gives a channel two cursors');
    since.set(channel, cursor);
  }
  return { channels, since };
}

function* splitList(values: readonly string[]): Generator<string> {
  for (const value of values) for (const item of value.split(',')) if (item !== '') yield item;
}

/**
 * The query of a multi-channel request: `channels=a,b&since=a:C1&since=b:C2`
 * (`since` only for the channels that have a cursor). URL-encoded.
 */
export function channelSetQuery(cursors: ReadonlyMap<string, string | undefined>): string {
  const params = new URLSearchParams();
  params.set(CHANNELS_PARAM, [...cursors.keys()].join(','));
  for (const [channel, cursor] of cursors) if (cursor !== undefined) params.append('since', `${channel}:${cursor}`);
  return params.toString();
}

/**
 * The event id of a multi-channel event stream: the position of every
 * channel, in the order of `channels=`, so that `Last-Event-ID` alone is
 * enough to resume. Compact: the prefix all cursors share (an in-memory
 * hub's run) is written once, then each cursor's rest; `%` and `,` are
 * escaped. `a0b1-17`, `a0b1-9` → `a0b1-,17,9`.
 */
export function encodePositions(cursors: readonly string[]): string {
  const prefix = commonPrefix(cursors);
  let id = escapePart(prefix);
  for (const cursor of cursors) id += `,${escapePart(cursor.slice(prefix.length))}`;
  return id;
}

/** The cursors of an event id made by `encodePositions`, or undefined when it does not hold `count` of them. */
export function decodePositions(id: string, count: number): string[] | undefined {
  const parts = id.split(',');
  if (parts.length !== count + 1) return undefined;
  const prefix = unescapePart(parts[0]!);
  const cursors = parts.slice(1).map((rest) => prefix + unescapePart(rest));
  return cursors.every((cursor) => cursor !== '') ? cursors : undefined;
}

function commonPrefix(values: readonly string[]): string {
  let prefix = values[0] ?? '';
  for (const value of values) {
    let i = 0;
    while (i < prefix.length && prefix.charCodeAt(i) === value.charCodeAt(i)) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix;
}

function escapePart(value: string): string {
  return value.replace(/[%,]/g, (c) => (c === '%' ? '%25' : '%2C'));
}

function unescapePart(value: string): string {
  return value.replace(/%2C|%25/g, (c) => (c === '%25' ? '%' : ','));
}

/**
 * The JSON answer of a multi-channel poll: `{"channels": {"a": BATCH, ...}}`,
 * a batch for every channel asked for (an empty one carries the channel's
 * cursor), each the single-channel batch format. `encode` lets the server
 * reuse the encoding one fan-out shares.
 */
export function encodeChannelBatches(batches: ReadonlyMap<string, Batch>, encode: (batch: Batch) => string = encodeBatch): string {
  const parts: string[] = [];
  for (const [channel, batch] of batches) parts.push(`${JSON.stringify(channel)}:${encode(batch)}`);
  return `{"channels":{${parts.join(',')}}}`;
}

/** Parses and checks a multi-channel answer. */
export function decodeChannelBatches(body: string): Map<string, Batch> {
  const value: unknown = JSON.parse(body);
  const channels = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).channels : undefined;
  if (typeof channels !== 'object' || channels === null) throw new TypeError('not a pollcast multi-channel answer');
  const batches = new Map<string, Batch>();
  for (const [channel, batch] of Object.entries(channels)) {
    if (!CHANNEL_NAME.test(channel) || !isBatch(batch)) throw new TypeError('not a pollcast multi-channel answer');
    batches.set(channel, batch);
  }
  return batches;
}

function isBatch(value: unknown): value is Batch {
  if (typeof value !== 'object' || value === null) return false;
  const { messages, missed, cursor } = value as Record<string, unknown>;
  return (
    Array.isArray(messages) &&
    typeof missed === 'boolean' &&
    typeof cursor === 'string' &&
    messages.every(
      (m: unknown) =>
        typeof m === 'object' &&
        m !== null &&
        typeof (m as Record<string, unknown>).id === 'string' &&
        typeof (m as Record<string, unknown>).text === 'string' &&
        typeof (m as Record<string, unknown>).time === 'number',
    )
  );
}
