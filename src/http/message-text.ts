import type { OutgoingHttpHeaders } from 'node:http';
import { HttpError } from './errors.js';

/*
 * What makes a message text acceptable, whichever way it is published (an
 * HTTP body, a WebSocket frame): the one home of these rules and their codes,
 * and of the rule for the idempotency key that may come with it.
 */

/** An idempotency key: visible ASCII, at most 128 characters: room for a UUID or any client's own scheme. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

// fatal: a malformed byte is an error, never a silent U+FFFD in someone's message.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// A string's code points: a surrogate left over is one that has no partner.
const LONE_SURROGATE = /\p{Cs}/u;

/** `body_too_large`: the text is over `maxBytes` bytes of UTF-8. */
export function tooLarge(maxBytes: number, headers: OutgoingHttpHeaders = {}): HttpError {
  return new HttpError('body_too_large', `message body is larger than ${maxBytes} bytes`, headers);
}

/**
 * Checks a text given as a string: `empty_body` when empty, `bad_utf8`
 * when it holds a lone surrogate (it has no UTF-8 form; JSON's `\ud800`
 * can say it), `body_too_large` over `maxBytes` bytes of UTF-8. Returns the
 * text; throws an `HttpError` with the code.
 */
export function checkMessageText(text: string, maxBytes: number): string {
  if (text === '') throw new HttpError('empty_body', 'message body is empty');
  if (LONE_SURROGATE.test(text)) throw new HttpError('bad_utf8', 'message body is not valid UTF-8');
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw tooLarge(maxBytes);
  return text;
}

/** Decodes bytes as a message text: `bad_utf8` for a malformed byte, then the checks of `checkMessageText`. */
export function decodeMessageText(bytes: Uint8Array, maxBytes: number): string {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new HttpError('bad_utf8', 'message body is not valid UTF-8');
  }
  return checkMessageText(text, maxBytes);
}
