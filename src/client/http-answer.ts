/**
 * What the fetch-based feeds (long poll, interval poll, event stream) share:
 * the part of `fetch` they use, the request target of a channel, and how an
 * error answer or a network error becomes a failure of the `Reconnector`.
 */

import { CHANNEL_NAME, DEFAULT_CHANNEL, decodeBatch } from '../protocol.js';
import type { Batch } from '../protocol.js';
import { errorMessage } from './reconnect.js';
import type { Reconnector } from './reconnect.js';
import type { TokenSource } from './token-source.js';

/** A streamed body, as `Response.body` has it; only the event stream reads one. */
export interface ByteStream {
  getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> };
}

/** The part of a `fetch` response the feeds read; a real `Response` fits. */
export interface FeedResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  /** Read by the event stream only; the polls use `text()`. */
  readonly body?: ByteStream | null;
  text(): Promise<string>;
}

/** What the feeds ask `fetch` for; the global `fetch` fits. */
export type FeedFetch = (
  url: string,
  init: {
    headers: Record<string, string>;
    cache: 'no-store';
    signal: AbortSignal;
  },
) => Promise<FeedResponse>;

const REASON_LIMIT = 200;
/** Reasons for a bodiless error: HTTP/2 sends no status text. */
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * `base` + `/endpoint[/channel]`, the bare path for the default channel.
 * Throws a `TypeError` for a bad channel name, so a feed refuses it at once.
 *
 * @example endpointUrl('http://host/', 'events', 'news') // 'http://host/events/news'
 */
export function endpointUrl(base: string | undefined, endpoint: string, channel: string | undefined): string {
  const name = channel ?? DEFAULT_CHANNEL;
  if (!CHANNEL_NAME.test(name)) throw new TypeError(`invalid channel name: ${JSON.stringify(name)}`);
  const path = name === DEFAULT_CHANNEL ? `/${endpoint}` : `/${endpoint}/${name}`;
  return (base ?? '.').replace(/\/+$/, '') + path;
}

/** Where a fetch-based feed asks, and how. */
export interface CursorRequestOptions {
  base?: string;
  channel?: string;
  token?: string;
  /** Sent as `?name=`: who this subscriber is in presence. */
  name?: string;
  fetch?: FeedFetch;
}

/**
 * The one request a fetch-based feed makes, from a cursor: `GET
 * base/endpoint[/channel]?since=CURSOR`, uncached, with the token as a
 * header. Bad options (channel, no fetch) throw here, at once.
 */
export function cursorRequest(
  options: CursorRequestOptions,
  endpoint: string,
  accept: string,
  tokens?: TokenSource,
): (cursor: string, signal: AbortSignal) => Promise<FeedResponse> {
  const url =
    endpointUrl(options.base, endpoint, options.channel) + (options.name ? `?name=${encodeURIComponent(options.name)}&since=` : '?since=');
  const fetcher = requireFetch(options.fetch);
  let token = tokens ? tokens.token : options.token;
  let headers = withToken({ accept }, token);
  return (cursor, signal) => {
    // A renewed token changes the header; the same one keeps the headers made once.
    if (tokens && tokens.token !== token) headers = withToken({ accept }, (token = tokens.token));
    return fetcher(url + encodeURIComponent(cursor), { headers, cache: 'no-store', signal });
  };
}

/** Adds `Authorization: Bearer <token>` when there is a token. */
export function withToken(headers: Record<string, string>, token: string | undefined): Record<string, string> {
  return token ? { ...headers, authorization: `Bearer ${token}` } : headers;
}

/** The `fetch` to use: the option, else the global one; throws when there is neither. */
function requireFetch(fetcher: FeedFetch | undefined): FeedFetch {
  const found = fetcher ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined);
  if (typeof found !== 'function') throw new TypeError('no fetch: pass options.fetch');
  return found;
}

/**
 * An error answer as a failure: its reason read, its `Retry-After` heeded;
 * `null` when aborted meanwhile, or (a `401` with `tokens` that renew) to
 * try again now with a fresh token.
 */
export async function failedAnswer(
  link: Reconnector,
  response: FeedResponse,
  signal: AbortSignal,
  tokens?: TokenSource,
): Promise<number | null> {
  const reason = await errorReason(response);
  if (signal.aborted) return null;
  if (response.status === 401 && tokens && (await tokens.renew())) return null;
  return link.fail({ status: response.status, reason }, response.headers.get('retry-after'));
}

/** A thrown `fetch` or read as a failure; `null` when it was our own abort (close, offline): not a failure. */
export function failedRequest(link: Reconnector, error: unknown, signal: AbortSignal): number | null {
  return signal.aborted ? null : link.fail({ status: null, reason: errorMessage(error) }, null);
}

/**
 * Reads a `200`'s batch and hands it to `take`. A body that is no batch (a
 * proxy's HTML page, a cut-off body) is a failure, and `take` is not called,
 * so the cursor stays and nothing is skipped.
 */
export async function receiveBatch(
  link: Reconnector,
  response: FeedResponse,
  signal: AbortSignal,
  take: (batch: Batch) => void,
): Promise<number | null> {
  const body = await response.text();
  if (signal.aborted) return null;
  let batch: Batch;
  try {
    batch = decodeBatch(body);
  } catch (error) {
    return link.fail({ status: 200, reason: errorMessage(error) }, null);
  }
  take(batch);
  return null;
}

/** The first line of an error body, or the status text: servers answer errors with one line of text. */
async function errorReason(response: FeedResponse): Promise<string> {
  let body = '';
  try {
    body = await response.text();
  } catch {
    // An unreadable body still leaves the status to report.
  }
  const line = body.split(/\r?\n/, 1)[0]?.trim() ?? '';
  return (line || response.statusText || STATUS_TEXT[response.status] || 'HTTP error').slice(0, REASON_LIMIT);
}
