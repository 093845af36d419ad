import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';
import { CHANNEL_NAME, DEFAULT_CHANNEL } from '../protocol.js';

/** Reading a request target: `/endpoint[/channel][?query]`. */

const BAD_TARGET = new HttpError('bad_request', 'request target is not a path');
const BAD_CHANNEL = new HttpError('bad_channel', 'channel names are 1 to 64 of A-Z a-z 0-9 _ -');
// Two hosts name two targets: whichever a proxy in front picked, it may not be the one read here.
const TWO_HOSTS = new HttpError('bad_request', 'more than one Host header', { connection: 'close' });

/**
 * The path and the query of a request target. A parameter given empty
 * (`since=`) counts as not given, the same on every transport: an empty
 * cursor is "from now", as an empty `Last-Event-ID` is for `EventSource`.
 */
export function splitTarget(target: string): { path: string; query: URLSearchParams } {
  if (!target.startsWith('/')) {
    // absolute-form ("GET http://host/path"), which HTTP/1.1 servers must accept
    if (!URL.canParse(target)) throw BAD_TARGET;
    const url = new URL(target);
    return { path: url.pathname, query: withoutEmpty(url.searchParams) };
  }
  const mark = target.indexOf('?');
  if (mark === -1) return { path: target, query: new URLSearchParams() };
  return { path: target.slice(0, mark), query: withoutEmpty(new URLSearchParams(target.slice(mark + 1))) };
}

function withoutEmpty(query: URLSearchParams): URLSearchParams {
  for (const value of query.values()) if (value === '') return new URLSearchParams([...query].filter(([, kept]) => kept !== ''));
  return query;
}

/** `/publish/room` → `['publish', 'room']`; `/publish` → `['publish', undefined]`. */
export function splitPath(path: string): [string, string | undefined] {
  const slash = path.indexOf('/', 1);
  if (slash === -1) return [path.slice(1), undefined];
  return [path.slice(1, slash), path.slice(slash + 1)];
}

export function checkChannel(channel: string | undefined): string {
  if (channel === undefined) return DEFAULT_CHANNEL;
  if (!CHANNEL_NAME.test(channel)) throw BAD_CHANNEL;
  return channel;
}

/** How many `Host` headers the request carried (Node keeps only the first in `req.headers`). */
export function hostHeaders(req: IncomingMessage): number {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'host') count++;
  return count;
}

/** Throws 400 when the request names more than one host (RFC 9112 §3.2). */
export function checkHost(req: IncomingMessage): void {
  if (hostHeaders(req) > 1) throw TWO_HOSTS;
}
