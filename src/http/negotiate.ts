import type { IncomingMessage } from 'node:http';

/** True when the client asked for JSON (`Accept: application/json`); plain text otherwise. */
export function wantsJson(req: IncomingMessage): boolean {
  return req.headers.accept?.includes('application/json') === true;
}

/**
 * Whether an idle long poll should end with `200` and an empty body rather
 * than `204`: a plain-text poll without a cursor, sent by a browser's
 * `fetch()` (`Sec-Fetch-Mode` present, or a browser's `User-Agent`: the
 * `Sec-Fetch-*` headers are only sent to secure origins and localhost).
 * That is the classic demo page, whose client takes any status but 200 and
 * 502 for an error. pollcast's own client asks for JSON and so keeps its
 * `204`; curl and other programs keep theirs too.
 */
export function idleAsEmptyText(req: IncomingMessage, query: URLSearchParams): boolean {
  if (wantsJson(req) || query.has('since')) return false;
  return req.headers['sec-fetch-mode'] !== undefined || req.headers['user-agent']?.startsWith('Mozilla/') === true;
}
