import { STATUS_CODES } from 'node:http';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { FALLBACK } from '../log.js';
import type { Logger } from '../log.js';
import { HubClosedError, HubFullError, InvalidCursorError, KeyReusedError, StorageUnavailableError } from '../hub.js';

/** Stable error codes, each with its status; the `pollcast-error` header carries the code. */
export const ERROR_STATUS = {
  bad_request: 400,
  bad_channel: 400,
  bad_cursor: 400,
  empty_body: 400,
  bad_utf8: 400,
  bad_idempotency_key: 400,
  bad_name: 400,
  malformed_request: 400,
  too_many_subscriptions: 400,
  unauthorized: 401,
  invalid_token: 401,
  forbidden: 403,
  origin_not_allowed: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  upgrade_required: 426,
  body_too_large: 413,
  unsupported_charset: 415,
  key_reused: 422,
  rate_limited: 429,
  headers_too_large: 431,
  shutting_down: 503,
  too_many_waiting: 503,
  too_many_channels: 503,
  storage_unavailable: 503,
  too_busy: 503,
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
export const TOO_MANY_WAITING = new HttpError('too_many_waiting', 'too many subscribers are waiting; try again later', {
  'retry-after': '5',
});

/** A WebSocket endpoint asked for without the upgrade (a proxy in between may have dropped its headers). */
export const UPGRADE_REQUIRED = new HttpError(
  'upgrade_required',
  'this is a WebSocket endpoint: send Upgrade: websocket (a proxy may have dropped it)',
  { upgrade: 'websocket', connection: 'Upgrade' },
);
/** The outbound budget (`outboundBytes`) is spent on readers that have not taken their answers yet. */
export const TOO_BUSY = new HttpError('too_busy', 'too much is waiting to be sent; try again shortly', { 'retry-after': '1' });

/** The token that let a held poll, a stream or a WebSocket in has expired: fetch a new one and resume. */
export const TOKEN_EXPIRED = new HttpError('invalid_token', 'token expired', {
  'www-authenticate': 'Bearer realm="pollcast", error="invalid_token", error_description="token expired"',
});

/** Every channel the hub may hold is in use, each with subscribers waiting. */
export const TOO_MANY_CHANNELS = new HttpError('too_many_channels', 'too many channels are in use; try again later', {
  'retry-after': '5',
});

/** The hub's storage (Redis) does not answer: nothing was acknowledged; try again shortly. */
/** The codes that mean a limit was hit: logged (without flooding) as well as answered. */
export const LIMIT_CODES: ReadonlySet<ErrorCode> = new Set(['rate_limited', 'too_many_waiting', 'too_many_channels', 'body_too_large']);

/** The hub's storage (Redis) does not answer: nothing was acknowledged; try again shortly. */
export const STORAGE_UNAVAILABLE = new HttpError('storage_unavailable', 'message storage is unavailable; try again shortly', {
  'retry-after': '2',
});

/**
 * Hub errors are about the request or the storage, not a fault of the
 * server: the one mapping to their answers, for HTTP and WebSocket alike.
 * Anything else is returned as it is (for the generic 500).
 */
export function fromHubError(error: unknown): unknown {
  if (error instanceof InvalidCursorError) return new HttpError('bad_cursor', error.message);
  if (error instanceof KeyReusedError) return new HttpError('key_reused', error.message);
  if (error instanceof HubClosedError) return SHUTTING_DOWN;
  if (error instanceof HubFullError) return TOO_MANY_CHANNELS;
  if (error instanceof StorageUnavailableError) return STORAGE_UNAVAILABLE;
  return error;
}

/** The headers every error answer carries, whichever way it is written. */
function errorHeaders(answer: HttpError, body: string): OutgoingHttpHeaders {
  return {
    ...answer.headers,
    'content-type': 'text/plain;charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'pollcast-error': answer.code,
  };
}

/**
 * The answer for anything thrown: itself when an `HttpError`, a hub error's
 * own (`fromHubError`), else a bare 500 that leaks nothing (and is logged).
 */
export function asHttpError(error: unknown, log: Logger = FALLBACK): HttpError {
  const answer = fromHubError(error);
  if (answer instanceof HttpError) return answer;
  log.error({ event: 'error', err: error }, 'unexpected error');
  return INTERNAL;
}

/**
 * Turns anything thrown into an answer. Unknown errors become a bare 500 that
 * leaks nothing (and is logged); a response already under way can only be cut.
 */
export function sendError(res: ServerResponse, error: unknown, log: Logger = FALLBACK): void {
  const answer = asHttpError(error, log);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${answer.message}\n`;
  res.writeHead(answer.status, errorHeaders(answer, body));
  res.end(body);
}

/**
 * Ends a socket that no `ServerResponse` speaks for (a parser error, an
 * upgrade or `CONNECT` refused) with the error answer `sendError` would give,
 * and `Connection: close`: what follows on the connection cannot be read.
 */
export function endSocket(socket: Duplex, error: unknown, log: Logger = FALLBACK): void {
  const answer = asHttpError(error, log);
  const body = `${answer.message}\n`;
  const head = Object.entries({ ...errorHeaders(answer, body), connection: 'close' })
    .map(([name, value]) => `${name}: ${String(value)}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n${head}\r\n${body}`);
}
