/**
 * One publish attempt and what became of it, free of the DOM: the page's
 * `PublishForm` and the terminal chat's outbox both send through it, so the
 * two agree on the request (`Idempotency-Key`, token, timeout) and on which
 * failures a retry of the same text can fix.
 */

import { CHANNEL_NAME, DEFAULT_CHANNEL, HEADER } from '../protocol.js';
import type { Published } from '../protocol.js';
import { withToken } from './http-answer.js';
import { retryAfterMs } from './backoff.js';

/** The part of `fetch` a publish uses; the global `fetch` fits. */
export type PublishFetch = (
  url: string,
  init: {
    method: 'POST';
    headers: Record<string, string>;
    body: string;
    cache: 'no-store';
    signal: AbortSignal;
  },
) => Promise<{
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

/** One text to publish. */
export interface PublishRequest {
  /** The publish URL, from `publishUrl()`. */
  readonly url: string;
  readonly text: string;
  /** The same for every try of one text, so the server stores it once. */
  readonly key: string;
  /** Bearer token, for a server started with `--publish-token`. */
  readonly token: string | undefined;
  /** A display name to publish under (`Pollcast-Name`; a server with a verified token uses the token's). */
  readonly name?: string | undefined;
  /** How long to wait for an answer before calling it a failure, in ms. */
  readonly timeout: number;
  readonly fetch: PublishFetch;
  /** Abandons the attempt (its outcome is then a retryable failure). */
  readonly signal?: AbortSignal;
}

/** What became of one attempt. */
export interface PublishOutcome {
  readonly ok: boolean;
  /** A failure that sending the same text again cannot fix (e.g. 413). */
  readonly final: boolean;
  /** `status reason`, or what went wrong on the way; empty on success. */
  readonly problem: string;
  readonly published: Published | null;
  /** The answer's `Retry-After` in ms (0 without one): the least a retry should wait. */
  readonly retryAfter: number;
}

/** `base/publish` for the default channel, `base/publish/CHANNEL` otherwise. */
export function publishUrl(base: string, channel: string = DEFAULT_CHANNEL): string {
  if (!CHANNEL_NAME.test(channel)) throw new TypeError(`invalid channel name: ${JSON.stringify(channel)}`);
  const root = base.replace(/\/+$/, '');
  return channel === DEFAULT_CHANNEL ? `${root}/publish` : `${root}/publish/${channel}`;
}

/** POSTs one text with its key; never throws. */
export async function publishOnce(request: PublishRequest): Promise<PublishOutcome> {
  const controller = new AbortController();
  const abandon = (): void => controller.abort(request.signal?.reason);
  request.signal?.addEventListener('abort', abandon);
  const timer = setTimeout(() => controller.abort(new DOMException('no answer in time', 'TimeoutError')), request.timeout);
  try {
    const response = await request.fetch(request.url, {
      method: 'POST',
      headers: withToken(
        {
          accept: 'application/json',
          'content-type': 'text/plain;charset=utf-8',
          'idempotency-key': request.key,
          // Header values are Latin-1: the name goes percent-encoded UTF-8.
          ...(request.name && { [HEADER.name]: encodeURIComponent(request.name) }),
        },
        request.token,
      ),
      body: request.text,
      cache: 'no-store',
      signal: controller.signal,
    });
    const body = await response.text();
    const status = response.status;
    if (status === 200) return { ok: true, final: true, problem: '', published: parsePublished(body), retryAfter: 0 };
    const reason = body.split(/\r?\n/, 1)[0]?.trim() || response.statusText;
    // 4xx means this text will never do (too large, empty, bad channel), except for the ones that are about timing.
    const final = status >= 400 && status < 500 && status !== 408 && status !== 429;
    const retryAfter = retryAfterMs(response.headers.get('retry-after'), Date.now());
    return { ok: false, final, problem: `${status} ${reason}`.trim(), published: null, retryAfter };
  } catch (error) {
    const signal = controller.signal;
    const problem = signal.aborted && signal.reason instanceof Error ? signal.reason.message : errorMessage(error);
    return { ok: false, final: false, problem, published: null, retryAfter: 0 };
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener('abort', abandon);
  }
}

function parsePublished(body: string): Published | null {
  try {
    const value: unknown = JSON.parse(body);
    if (
      typeof value === 'object' &&
      value !== null &&
      'id' in value &&
      'time' in value &&
      typeof value.id === 'string' &&
      typeof value.time === 'number'
    ) {
      return { id: value.id, time: value.time };
    }
  } catch {
    // Accepted all the same: the status said so.
  }
  return null;
}

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `network error (${message || 'no answer'})`;
}

/** A v4 UUID; `crypto.randomUUID` exists only on https and localhost, `getRandomValues` everywhere. */
export function uuid(): string {
  const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext !== false;
  if (typeof crypto.randomUUID === 'function' && secure) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
