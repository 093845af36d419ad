import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';
import { decodeMessageText, tooLarge } from './message-text.js';

// The rest of the body stays unread, so the connection cannot carry another request.
const UNREAD = { connection: 'close' } as const;

/** `OWS ";" OWS [name "=" (token / quoted-string)]`, one parameter at a time (RFC 9110 §5.6.6). */
const PARAMETER =
  /[ \t]*;[ \t]*(?:([!#$%&'*+.^_`|~0-9A-Za-z-]+)=([!#$%&'*+.^_`|~0-9A-Za-z-]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?/y;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,40}$/;
const UTF8_NAMES = new Set(['utf-8', 'utf8', 'us-ascii']);
const MALFORMED_TYPE = new HttpError('bad_request', 'Content-Type parameters are malformed', UNREAD);

/**
 * Reads a request body as a message text of at most `limit` bytes (checked
 * by `decodeMessageText`, as every way of publishing is). A declared
 * length over the limit is refused before a byte is read; a chunked body is
 * refused as soon as it crosses the limit, so an oversized body never sits in
 * memory. Rejects with an `HttpError`, or a `ClientGoneError` when the
 * client went away mid-body (then there is nobody to answer).
 */
export function readText(req: IncomingMessage, limit: number): Promise<string> {
  checkCharset(req.headers['content-type']);
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit, UNREAD));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge(limit, UNREAD));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      try {
        resolve(decodeMessageText(Buffer.concat(chunks, size), limit));
      } catch (error) {
        reject(error);
      }
    });
    req.once('close', () => {
      if (!req.complete) reject(new ClientGoneError('client went away mid-body'));
    });
  });
}

/** The client closed the connection before its body was complete; nothing is published. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
}

/** Refuses a body whose media type declares any charset but UTF-8 (or its subset US-ASCII). */
function checkCharset(contentType: string | undefined): void {
  for (const charset of charsets(contentType ?? '')) {
    if (UTF8_NAMES.has(charset.toLowerCase())) continue;
    // A token cannot carry markup or control characters, so it may be named; anything else is not echoed.
    const named = TOKEN.test(charset) ? `charset ${charset.toLowerCase()} is` : 'the declared charset is';
    throw new HttpError('unsupported_charset', `${named} not supported; send UTF-8`, UNREAD);
  }
}

/**
 * The values of every `charset` parameter of a media type, unquoted; throws
 * 400 when the parameters do not parse. Quoted strings are read as such, so a
 * `;charset=` inside one is text, not a parameter.
 */
function charsets(contentType: string): string[] {
  const start = contentType.indexOf(';');
  if (start === -1) return [];
  const found: string[] = [];
  const end = contentType.trimEnd().length;
  PARAMETER.lastIndex = start;
  while (PARAMETER.lastIndex < end) {
    const match = PARAMETER.exec(contentType);
    if (!match || match[0] === '') throw MALFORMED_TYPE;
    const [, name, value] = match;
    if (name?.toLowerCase() === 'charset') found.push(value!.startsWith('"') ? value!.slice(1, -1).replace(/\\(.)/g, '$1') : value!);
  }
  return found;
}
