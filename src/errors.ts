import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { HubClosedError, HubFullError, InvalidCursorError, KeyReusedError, StorageUnavailableError } from './hub.js';

/** Stable error codes, each with its status; the `pollcast-error` header carries the code. */
export const ERROR_STATUS = {
  bad_request: 400,
  bad_channel: 400,
  bad_cursor: 400,
  empty_body: 400,
  bad_utf8: 400,
  bad_idempotency_key: 400,
  too_many_subscriptions: 400,
  unauthorized: 401,
  origin_not_allowed: 403,
  not_found: 404,
  method_not_allowed: 405,
  upgrade_required: 426,
  body_too_large: 413,
  unsupported_charset: 415,
  key_reused: 422,
  rate_limited: 429,
  shutting_down: 503,
  too_many_waiting: 503,
  too_many_channels: 503,
  storage_unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An answer that ends a request with an error status and a one-line reason. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;

  constructor(code: ErrorCode, reason: string, headers: OutgoingHttpHeaders = {}) {
    super(reason);
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.headers = headers;
  }
}

const INTERNAL = new HttpError('internal', 'internal server error');

/** The server is closing: try again shortly, elsewhere or after a restart. */
export const SHUTTING_DOWN = new HttpError('shutting_down', 'server is shutting down', { 'retry-after': '1', connection: 'close' });

/** The waiting room (`maxWaiting`, `maxWaitingPerClient`) is full. */
export const TOO_MANY_WAITING = new HttpError('too_many_waiting', 'too many subscribers are waiting; try again later', { 'retry-after': '5' });

/** A WebSocket endpoint asked for without the upgrade (a proxy in between may have dropped its headers). */
export const UPGRADE_REQUIRED = new HttpError('upgrade_required', 'this is a WebSocket endpoint: send Upgrade: websocket (a proxy may have dropped it)', { upgrade: 'websocket', connection: 'Upgrade' });

/** The hub's storage (Redis) does not answer: nothing was acknowledged; try again shortly. */
export const STORAGE_UNAVAILABLE = new HttpError('storage_unavailable', 'message storage is unavailable; try again shortly', { 'retry-after': '2' });

/** Hub errors are about the request or the storage, not a fault of the server: give them their status. */
export function fromHubError(error: unknown): unknown {
  if (error instanceof InvalidCursorError) return new HttpError('bad_cursor', error.message);
  if (error instanceof KeyReusedError) return new HttpError('key_reused', error.message);
  if (error instanceof HubClosedError) return SHUTTING_DOWN;
  if (error instanceof HubFullError) return new HttpError('too_many_channels', 'too many channels are in use; try again later', { 'retry-after': '5' });
  if (error instanceof StorageUnavailableError) return STORAGE_UNAVAILABLE;
  return error;
}

/**
 * Turns anything thrown into an answer. Unknown errors become a bare 500 that
 * leaks nothing; a response already under way can only be cut.
 */
export function sendError(res: ServerResponse, error: unknown): void {
  const answer = error instanceof HttpError ? error : INTERNAL;
  if (answer === INTERNAL) console.error('pollcast: unexpected error', error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${answer.message}\n`;
  res.writeHead(answer.status, {
    ...answer.headers,
    'content-type': 'text/plain;charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'pollcast-error': answer.code,
  });
  res.end(body);
}
