import type { Batch, From } from './protocol.js';

/**
 * What the hubs' memory costs, in bytes of V8 heap (64-bit, Node 20): the
 * constants the budgets charge, measured as `heapUsed` after `gc()` over
 * 100 000 publishes (one-byte texts and 128-character keys; 1 to 100 000
 * channels; per-channel limits of 10 to 100 000), then rounded up with room
 * for what the measurement did not hit at once: a ring a quarter full, an
 * eviction queue with as many dead slots as live ones. In every run the
 * charge was above the heap taken, by 15 to 50 %.
 */

/**
 * A kept message beyond its text: the `Message` and its id, the history
 * entry, its slots in the channel's ring (which may be four times the
 * entries before it shrinks) and in the eviction queue (which may hold
 * twice the live entries before it is swept). Measured: 250 bytes.
 */
export const MESSAGE_OVERHEAD = 384;

/** An idempotency key beyond its string: its entry in the channel's key map. Measured: 29 bytes. */
export const KEY_OVERHEAD = 48;

/**
 * A channel with nothing in it: its record, history, empty ring, key map,
 * waiter set, batch shelf and its entry in the hub's map of channels.
 * Measured: 830 bytes.
 */
export const CHANNEL_OVERHEAD = 1024;

/** A string's header; the characters follow. */
const STRING_HEADER = 16;

/** Anything beyond Latin-1 makes V8 store every character of the string in two bytes. */
const TWO_BYTE = /[^\0-\xff]/;

/** Heap bytes of a flat string: one byte a character when all are Latin-1, else two. */
export function stringBytes(text: string): number {
  return STRING_HEADER + (TWO_BYTE.test(text) ? 2 * text.length : text.length);
}

/** An author beyond its strings: the object and its three properties. */
export const FROM_OVERHEAD = 64;

/**
 * What a kept message is charged against the history budget: its text, its
 * overhead, its key if it has one, and its author if it has one.
 */
export function messageCost(text: string, key?: string, from?: From): number {
  const keyCost = key === undefined ? 0 : KEY_OVERHEAD + stringBytes(key);
  const fromCost = from === undefined ? 0 : FROM_OVERHEAD + stringBytes(from.name) + (from.id === undefined ? 0 : stringBytes(from.id));
  return MESSAGE_OVERHEAD + stringBytes(text) + keyCost + fromCost;
}

/** A cached batch beyond its messages: the object, its array, its cursor, its place in the cache. */
const BATCH_OVERHEAD = 256;
/**
 * A message in a batch's JSON beyond its text: `{"id":…,"text":…,"time":…}`
 * with a time of 13 digits, and the comma.
 */
const ENCODED_MESSAGE_OVERHEAD = 40;
/**
 * JSON escapes a control character (or a lone surrogate) as `\u0001`: six
 * bytes for one UTF-16 unit, the most any character costs once encoded.
 */
const WORST_ESCAPE = 6;

/**
 * What a cached batch may cost: its array of references (the messages
 * themselves are history's), and the JSON encoding that an answer attaches
 * to it, at its worst case, since that is made later and elsewhere.
 */
export function batchCost(batch: Batch): number {
  let bytes = BATCH_OVERHEAD + batch.cursor.length;
  for (const message of batch.messages) {
    const author = message.from === undefined ? 0 : 40 + WORST_ESCAPE * (message.from.name.length + (message.from.id?.length ?? 0));
    bytes += 8 + ENCODED_MESSAGE_OVERHEAD + message.id.length + WORST_ESCAPE * message.text.length + author;
  }
  return bytes;
}
