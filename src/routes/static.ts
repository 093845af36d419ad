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

function setSafetyHeaders(res: ServerResponse): void {
  res.setHeader('cache-control', 'no-cache');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
}

function notFound(_req: IncomingMessage, res: ServerResponse): void {
  sendError(res, NOT_FOUND);
}
