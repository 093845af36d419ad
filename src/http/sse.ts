import { encodeFrom } from '../protocol.js';
import type { Batch, Message } from '../protocol.js';

/**
 * Server-sent events framing (WHATWG HTML, "Server-sent events"). Pure. CR,
 * LF and CRLF all end a line there, so each line of a message becomes a
 * `data:` field of its own, and fields the server writes itself (`id:`) are
 * kept free of line ends.
 */

const LINE_END = /\r\n|\r|\n/;

/** A comment line: ignored by clients, it keeps proxies from closing an idle stream. */
export const HEARTBEAT = ':\n\n';

/** The stream's first bytes: how long to wait before reconnecting, and where it starts. */
export function openingFrame(retryMs: number, cursor: string): string {
  return `retry: ${retryMs}\n${cursorFrame(cursor)}`;
}

/** A piece of a batch's frames, and where the next piece starts. */
export interface Frames {
  readonly frames: string;
  /** Index of the first message left for the next piece; the batch's length when none is. */
  readonly next: number;
}

/**
 * The frames of a batch from message `start` on, as many as fit in
 * `maxLength` characters (at least one message), so a large backlog can be
 * written in pieces. The first piece begins with a `missed` event when
 * messages were missed: it carries `from`, the cursor the batch was read
 * after, because resuming from there gets the same messages again (and the
 * same `missed`); the batch's own cursor would skip them. Then one `message`
 * event per message, its id the message's cursor. A batch with no message
 * still moves the client's `Last-Event-ID` on.
 */
export function batchFrames(batch: Batch, from: string, start = 0, maxLength = Infinity): Frames {
  const { messages } = batch;
  let frames = '';
  if (start === 0) {
    if (batch.missed) frames += `event: missed\ndata: ${JSON.stringify({ cursor: messages.length > 0 ? from : batch.cursor })}\n\n`;
    if (messages.length === 0) frames += cursorFrame(batch.cursor);
  }
  let next = start;
  while (next < messages.length) {
    const frame = messageFrame(messages[next]!);
    if (next > start && frames.length + frame.length > maxLength) break;
    frames += frame;
    next++;
  }
  return { frames, next };
}

/**
 * `time:` (the publish time, ms since the epoch) and `from:` (the author,
 * one line of ASCII JSON) are pollcast's own fields: an `EventSource`
 * ignores fields it does not know, and pollcast's client reads them.
 */
function messageFrame(message: Message): string {
  let frame = `id: ${field(message.id)}\ntime: ${message.time}\n`;
  if (message.from) frame += `from: ${encodeFrom(message.from)}\n`;
  for (const line of message.text.split(LINE_END)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

/**
 * An `id:` with no data: clients take the id (the spec sets the last event
 * ID before it drops an event without data) and dispatch nothing.
 */
function cursorFrame(cursor: string): string {
  return `id: ${field(cursor)}\n\n`;
}

/**
 * The end of a stream whose token expired: an `expired` event, which a
 * client tells apart from a network error (it fetches a new token and
 * resumes from its `Last-Event-ID`).
 */
export const EXPIRED_FRAME = `event: expired\ndata: ${JSON.stringify({ reason: 'token expired' })}\n\n`;

/** Cursors are plain, but a field must never smuggle a line end or a NUL. */
function field(value: string): string {
  return value.replace(/[\r\n\0]/g, '');
}
