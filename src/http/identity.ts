import { HttpError } from './errors.js';
import type { From } from '../protocol.js';

/*
 * Who a client is: the identity a verified token gives, or the display name
 * a client declares itself on a server that has no keys. The one home of the
 * name rules, whichever way a name arrives (a header, a query parameter, a
 * WebSocket frame).
 */

/** Longest display name, in code points. */
export const MAX_NAME = 64;
/** Longest user id (a token's `sub`), in code points. */
export const MAX_ID = 128;

// Control characters (C0, DEL, C1), lone surrogates, and the bidirectional overrides and isolates
// that would let a name reorder the text shown after it.
const REFUSED = /[\p{Cc}\p{Cs}\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** A verified identity: the token's `sub` and its display name. */
export interface Identity {
  readonly id: string;
  readonly name: string;
}

/** Whether `name` is an acceptable display name: 1 to 64 code points, no control or direction characters. */
export function isName(name: string, max = MAX_NAME): boolean {
  if (name === '' || REFUSED.test(name)) return false;
  let count = 0;
  for (const _ of name) if (++count > max) return false;
  return name.trim() !== '';
}

/**
 * Checks a self-declared display name: throws `bad_name` (400) unless it is
 * 1 to 64 code points with no control characters; returns it.
 */
export function checkName(name: string): string {
  if (!isName(name)) throw new HttpError('bad_name', `a name must be 1 to ${MAX_NAME} characters, without control characters`);
  return name;
}

/**
 * The name a request declares: the `Pollcast-Name` header (UTF-8,
 * percent-encoded, since headers are Latin-1) or the `name` query parameter
 * (for EventSource and WebSocket, which cannot set headers). Undefined when
 * it declares none; `bad_name` when it is not acceptable.
 */
export function declaredName(header: string | string[] | undefined, query?: URLSearchParams): string | undefined {
  if (typeof header === 'string' && header !== '') {
    let name: string;
    try {
      name = decodeURIComponent(header);
    } catch {
      throw new HttpError('bad_name', 'Pollcast-Name must be UTF-8, percent-encoded');
    }
    return checkName(name);
  }
  const name = query?.get('name');
  return name ? checkName(name) : undefined;
}

/**
 * Who a message or a subscriber is: the verified identity when there is one
 * (a declared name is then ignored: nobody takes someone else's name), else
 * the declared name, marked not verified; undefined when neither.
 */
export function fromOf(identity: Identity | undefined, declared: string | undefined): From | undefined {
  if (identity) return { id: identity.id, name: identity.name, verified: true };
  return declared === undefined ? undefined : { name: declared, verified: false };
}

/** A string that names one `From` among others: the same user on two connections is one. */
export function fromKey(from: From): string {
  return from.verified ? `v:${from.id ?? ''}` : `n:${from.name}`;
}
