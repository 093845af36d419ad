import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/** What the tokens a client presents let it do. */
export interface Rights {
  readonly subscribe: boolean;
  readonly publish: boolean;
}

/**
 * Every token a request presents: its `Authorization: Bearer` token and,
 * when `query` is given, each `access_token` parameter (RFC 6750 §2.3, for
 * clients that cannot set headers: EventSource, a browser's WebSocket). Each
 * one grants its own rights, so one connection can carry several.
 */
export function presentedTokens(req: IncomingMessage, query?: URLSearchParams): string[] {
  const bearer = BEARER.exec(req.headers.authorization ?? '')?.[1];
  return [...(bearer ? [bearer] : []), ...(query?.getAll('access_token') ?? [])];
}

/**
 * Whether any of the tokens given is `token`, each compared in constant
 * time; with no token configured, everything passes.
 */
export function tokenMatch(token: string): (tokens: readonly string[]) => boolean {
  if (token === '') return () => true;
  const expected = digest(token);
  return (tokens) => tokens.some((given) => given !== '' && timingSafeEqual(digest(given), expected));
}

/**
 * The rights a list of tokens grants: the one place where a token becomes
 * rights (per-user tokens would be read here too).
 */
export function rightsCheck(subscribeToken: string, publishToken: string): (tokens: readonly string[]) => Rights {
  const subscribe = tokenMatch(subscribeToken);
  const publish = tokenMatch(publishToken);
  return (tokens) => ({ subscribe: subscribe(tokens), publish: publish(tokens) });
}

/**
 * Checks a bearer token in constant time. Returns a checker that throws 401
 * when none of the tokens the request presents is the token; with no token
 * configured, everything passes.
 */
export function tokenCheck(token: string): (req: IncomingMessage, query?: URLSearchParams) => void {
  const match = tokenMatch(token);
  const missing = new HttpError('unauthorized', 'a valid bearer token is required', { 'www-authenticate': 'Bearer realm="pollcast"' });
  return function requireToken(req, query) {
    if (!match(presentedTokens(req, query))) throw missing;
  };
}

/** Hashing first makes both sides the same length, as `timingSafeEqual` needs. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
