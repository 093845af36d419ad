import type { ServerResponse } from 'node:http';
import { TOO_BUSY, sendError } from './errors.js';
import type { Outbound, Outlet } from './outbound.js';
import { encodeBatch, encodeFrom, HEADER } from '../protocol.js';
import type { Batch, Message } from '../protocol.js';

/*
 * The JSON batch answer of `/subscribe` and `/messages`: a batch encoded
 * once however many clients it goes to, cut to one connection's share of
 * the outbound budget, and handed over only when that budget has room.
 */

/**
 * A fan-out hands the same batch to every waiter of a channel: encode it once
 * and write the same bytes to every socket.
 */
const encoded = new WeakMap<Batch, Buffer>();
/** Encodings up to this size are kept for the fan-out; larger ones are made per answer and counted while unsent. */
const SHARED_BYTES = 64 * 1024;

/**
 * Answers `200` with a JSON batch, encoded once however many clients it goes
 * to, and cut to the messages that fit in one connection's share of the
 * outbound budget (at least one): its cursor says where to go on. Returns
 * the batch that was answered.
 */
export function writeBatch(res: ServerResponse, batch: Batch, outbound: Outbound): Batch {
  const answer = fit(batch, outbound.limits.connectionBytes);
  let body = encoded.get(answer);
  if (!body) {
    body = Buffer.from(encodeBatch(answer));
    // A large answer is a backlog, seldom shared: kept, it would outlive its readers for as long as the hub remembers the batch.
    if (body.length <= SHARED_BYTES) encoded.set(answer, body);
  }
  sendAnswer(res, outbound, body, {
    'content-type': 'application/json',
    'content-length': body.length,
    'cache-control': 'no-store',
    [HEADER.cursor]: answer.cursor,
  });
  return answer;
}

/** An HTTP answer as the outbound budget sees it. */
class Answer implements Outlet {
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  get unsent(): number {
    return unsent(this.#res);
  }

  cut(): void {
    this.#res.destroy();
  }
}

/** Hands `body` over when the outbound budget has room for it, else answers `503`; counts it until the kernel took it. */
export function sendAnswer(res: ServerResponse, outbound: Outbound, body: Buffer, headers: Record<string, string | number>): void {
  if (!outbound.admit(body.length)) return sendError(res, TOO_BUSY);
  res.writeHead(200, headers);
  res.end(body);
  // Most answers are taken by the kernel at once: nothing to count, nothing to wait for.
  if (unsent(res) === 0) return;
  const answer = new Answer(res);
  res.once('finish', () => outbound.flushed(answer));
  outbound.handed(answer);
}

function unsent(res: ServerResponse): number {
  return res.destroyed || res.socket?.destroyed ? 0 : res.writableLength;
}

/** What of a batch fits in one answer (the batch itself, or the first of its messages), by the batch and the size it was fitted to. */
const fitted = new WeakMap<Batch, { readonly maxBytes: number; readonly batch: Batch }>();

/** `{"messages":[],"missed":false,"cursor":""}` */
const BATCH_OVERHEAD = 42;

/** The first messages of `batch` whose encoding fits in `maxBytes` (at least one), or `batch` itself when all do. */
function fit(batch: Batch, maxBytes: number): Batch {
  // A fan-out asks for the same batch once per waiter: measured once.
  const cached = fitted.get(batch);
  if (cached?.maxBytes === maxBytes) return cached.batch;
  const { messages } = batch;
  let bytes = BATCH_OVERHEAD + batch.cursor.length;
  let count = 0;
  for (; count < messages.length; count++) {
    bytes += encodedBytes(messages[count]!) + 1;
    if (bytes > maxBytes && count > 0) break;
  }
  const answer: Batch =
    count === messages.length ? batch : { messages: messages.slice(0, count), missed: batch.missed, cursor: messages[count - 1]!.id };
  fitted.set(batch, { maxBytes, batch: answer });
  return answer;
}

/** Characters JSON writes as escapes (`\"`, `\n`, `\u0001`, a lone surrogate's `\udc00`). */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `{"id":"","text":"","time":}` and a 13-digit time. */
const MESSAGE_OVERHEAD = 40;

/** The UTF-8 length of a message's JSON, without encoding it in the common case of nothing to escape. */
function encodedBytes(message: Message): number {
  const text = ESCAPED.test(message.text) ? JSON.stringify(message.text) : message.text;
  const author = message.from === undefined ? 0 : Buffer.byteLength(encodeFrom(message.from)) + 8;
  return Buffer.byteLength(text) + message.id.length + MESSAGE_OVERHEAD + author;
}
