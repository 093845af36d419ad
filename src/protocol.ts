/**
 * The wire contract between the server and its clients: paths, headers and
 * the JSON batch format. Pure and free of Node imports, because the browser
 * client compiles this same file.
 */

/** The channel that the bare paths (`/publish`, `/subscribe`) use. */
export const DEFAULT_CHANNEL = 'default';

/** What a channel name may be: letters, digits, `_` and `-`, 1 to 64 of them. */
export const CHANNEL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The cursor that means "from the oldest message still kept": a client that
 * has seen nothing yet asks for `since=0` to get the history.
 */
export const OLDEST = '0';

/** Response headers; lower case because Node and `fetch` both normalise to it. */
export const HEADER = {
  /** Id of the message a plain-text answer carries. */
  id: 'pollcast-id',
  /** Where to resume: pass it back as `since` on the next poll. */
  cursor: 'pollcast-cursor',
  /** `true` when messages between the cursor asked for and this answer are gone. */
  missed: 'pollcast-missed',
  /** Publish time of a plain-text answer's message, in ms since the epoch. */
  time: 'pollcast-time',
  /** `true` on a publish answer when its `Idempotency-Key` was seen before and nothing new was stored. */
  repeated: 'pollcast-repeated',
  /** Author of a plain-text answer's message: the `From` as JSON, non-ASCII escaped as `\uXXXX`. */
  from: 'pollcast-from',
  /** A self-declared display name on a request (open servers): UTF-8, percent-encoded. */
  name: 'pollcast-name',
} as const;

/**
 * Who wrote a message: from a verified token (`verified: true`, `id` is the
 * token's `sub`), or a name the publisher declared itself on a server that
 * accepts that (`verified: false`, no `id`).
 */
export interface From {
  /** The token's `sub`; absent for a self-declared name. */
  readonly id?: string;
  /** The display name. */
  readonly name: string;
  /** True when the server took it from a token it verified. */
  readonly verified: boolean;
}

/** One published message. */
export interface Message {
  /** Opaque cursor of this message; resume after it with `since=<id>`. */
  readonly id: string;
  /** The message text exactly as published. */
  readonly text: string;
  /** When the server accepted it, in ms since the epoch. */
  readonly time: number;
  /** Who published it; absent when the publisher gave no name and no identifying token. */
  readonly from?: From;
}

/** `from` as one line of ASCII JSON (non-ASCII as `\uXXXX`): for a header or an SSE field. */
export function encodeFrom(from: From): string {
  return JSON.stringify(from).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Parses `from` from its wire form; undefined when it is not one. */
export function decodeFrom(raw: string | null | undefined): From | undefined {
  if (!raw) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return isFrom(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `value` has the shape of a `From`. */
export function isFrom(value: unknown): value is From {
  return (
    isRecord(value) &&
    typeof value.name === 'string' &&
    typeof value.verified === 'boolean' &&
    (value.id === undefined || typeof value.id === 'string')
  );
}

/** What a JSON long poll answers with (`Accept: application/json`). */
export interface Batch {
  /** Every message after the cursor asked for, oldest first. */
  readonly messages: readonly Message[];
  /**
   * True when some messages after the cursor can no longer be delivered:
   * they fell out of the history, or the cursor is from an earlier run.
   */
  readonly missed: boolean;
  /** Where to resume: the last message's id, or the channel's position when empty. */
  readonly cursor: string;
}

/** What a publish answers with (`Accept: application/json`). */
export interface Published {
  readonly id: string;
  readonly time: number;
}

/**
 * Serialises a batch for the wire: `JSON.stringify(batch)`. Nothing is kept
 * per message: an encoding outliving its answer is memory nobody counts (a
 * control character takes six bytes), and the hubs keep the batches that
 * many clients share, which is where reuse pays.
 */
export function encodeBatch(batch: Batch): string {
  const parts = batch.messages.map((message) => JSON.stringify(message));
  return `{"messages":[${parts.join(',')}],"missed":${batch.missed},"cursor":${JSON.stringify(batch.cursor)}}`;
}

/**
 * Parses and checks a batch from the wire, so a proxy's HTML error page or a
 * truncated body is a clear error rather than a pane full of `undefined`.
 */
export function decodeBatch(body: string): Batch {
  const value: unknown = JSON.parse(body);
  if (!isRecord(value) || !Array.isArray(value.messages) || typeof value.missed !== 'boolean' || typeof value.cursor !== 'string') {
    throw new TypeError('not a pollcast batch');
  }
  for (const message of value.messages) {
    if (!isMessage(message)) throw new TypeError('not a pollcast message');
  }
  return value as unknown as Batch;
}

function isMessage(value: unknown): value is Message {
  return (
    isRecord(value) &&
    typeof value.id === 'string' &&
    typeof value.text === 'string' &&
    typeof value.time === 'number' &&
    (value.from === undefined || isFrom(value.from))
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
