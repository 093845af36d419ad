import type { IncomingMessage, ServerResponse } from 'node:http';
import sirv from 'sirv';
import { HttpError, sendError } from '../errors.js';

const NOT_FOUND = new HttpError('not_found', 'not found');

/**
 * Serves the files of `dir`. sirv lists the folder once at start-up and
 * answers only paths in that list, so `..`, encoded slashes and NUL bytes
 * cannot name anything outside it. Files are revalidated on every use
 * (`no-cache` + ETag → 304), because their names carry no content hash.
 */
export function createStatic(dir: string): (req: IncomingMessage, res: ServerResponse) => void {
  const serve = sirv(dir, {
    dev: false,
    etag: true,
    dotfiles: false,
    extensions: ['html'],
    setHeaders: setSafetyHeaders,
    onNoMatch: notFound,
  });
  return function serveStatic(req, res) {
    // sirv trusts Range without checking it (a reversed range throws after
    // the head was sent); a chat page has no use for partial content.
    delete req.headers.range;
    serve(req, res);
  };
}

/**
 * Scripts, styles and requests from this origin only; no framing, no plugins, no `<base>` tricks.
 * `connect-src` is cut in two: the page's own WebSocket origin goes between.
 */
const POLICY_HEAD = ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'"].join('; ');
const POLICY_TAIL = ["object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"].join('; ');
/** A host and port as browsers send them; anything else (a `;`, a space, a quote) must not reach the policy. */
const PLAIN_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/**
 * `'self'` covers `ws:` and `wss:` to the same host in CSP 3, but not in
 * every browser that is still about, so the page's host is named for them
 * outright; a host header that is not a plain host gets `'self'` alone.
 */
function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host !== undefined && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return `${POLICY_HEAD}${sockets}; ${POLICY_TAIL}`;
}

function setSafetyHeaders(res: ServerResponse): void {
  res.setHeader('cache-control', 'no-cache');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('content-security-policy', contentSecurityPolicy(res.req.headers.host));
  res.setHeader('referrer-policy', 'no-referrer');
}

function notFound(_req: IncomingMessage, res: ServerResponse): void {
  sendError(res, NOT_FOUND);
}
