import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/**
 * Checks a bearer token in constant time. Returns a checker that throws 401
 * when the request lacks the token; with no token configured, everything passes.
 */
export function tokenCheck(token: string): (req: IncomingMessage, query?: URLSearchParams) => void {
  if (token === '') return () => {};
  const expected = digest(token);
  const missing = new HttpError('unauthorized', 'a valid bearer token is required', { 'www-authenticate': 'Bearer realm="pollcast"' });
  return function requireToken(req, query) {
    // ?access_token= is for clients that cannot set headers (EventSource); RFC 6750 §2.3.
    const given = BEARER.exec(req.headers.authorization ?? '')?.[1] ?? query?.get('access_token');
    if (!given || !timingSafeEqual(digest(given), expected)) throw missing;
  };
}

/** Hashing first makes both sides the same length, as `timingSafeEqual` needs. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
