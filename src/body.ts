import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';
import { decodeMessageText, tooLarge } from './message-text.js';

// The rest of the body stays unread, so the connection cannot carry another request.
const UNREAD = { connection: 'close' } as const;

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

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

function checkCharset(contentType: string | undefined): void {
  const charset = contentType && CHARSET.exec(contentType)?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    throw new HttpError('unsupported_charset', `charset ${charset} is not supported; send UTF-8`, UNREAD);
  }
}
