/**
 * Server-sent events read over `fetch` with a streaming body (as the
 * `eventsource` v4 library does), not with the browser's `EventSource`: so
 * it runs the same in browsers and in Node, sends the token as a header,
 * and backs off like every other feed instead of the browser's fixed retry.
 * DOM-free.
 */

import { OLDEST } from '../protocol.js';
import { Delivery } from './delivery.js';
import { EventStreamParser } from './event-stream.js';
import type { StreamEvent } from './event-stream.js';
import { endpointUrl, failedAnswer, failedRequest, requireFetch, withToken } from './http-answer.js';
import type { ByteStream, PollFetch } from './http-answer.js';
import type { PollerOptions } from './poller.js';
import { CLOSED, Reconnector } from './reconnect.js';
import type { PollerState } from './reconnect.js';

/**
 * Follows one channel over `GET /events` until `close()`. The stream has
 * no publish time, so each message's `time` is `NaN`.
 *
 * @example
 * const feed = new EventStreamFeed({ channel: 'news', onMessage: show });
 */
export class EventStreamFeed {
  #cursor: string;
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: PollFetch;
  readonly #link: Reconnector;
  readonly #delivery: Delivery;

  constructor(options: PollerOptions = {}) {
    this.#url = endpointUrl(options.base, 'events', options.channel) + '?since=';
    this.#fetch = requireFetch(options.fetch);
    this.#cursor = options.since ?? OLDEST;
    this.#headers = withToken({ accept: 'text/event-stream' }, options.token);
    this.#link = new Reconnector(options, (signal) => this.#stream(signal));
    this.#delivery = new Delivery(options, () => this.#link.state === CLOSED);
    this.#link.start();
  }

  /** One of `connecting`, `live`, `reconnecting`, `offline`, `closed`. */
  get state(): PollerState {
    return this.#link.state;
  }

  /** The last event id: where the next stream starts. */
  get cursor(): string {
    return this.#cursor;
  }

  /** Aborts the stream, clears the retry timer and stops for good. Idempotent. */
  close(): void {
    this.#link.close();
  }

  /** One stream, read until it ends or fails; an end is a failure too (the server never ends one on its own). */
  async #stream(signal: AbortSignal): Promise<number | null> {
    try {
      // ?since= rather than Last-Event-ID: the same, and no header that would need a CORS preflight.
      const response = await this.#fetch(this.#url + encodeURIComponent(this.#cursor), {
        headers: this.#headers,
        cache: 'no-store',
        signal,
      });
      if (response.status !== 200) return await failedAnswer(this.#link, response, signal);
      const type = response.headers.get('content-type') ?? '';
      if (!type.startsWith('text/event-stream') || !response.body) {
        void response.body?.getReader().cancel().catch(() => undefined);
        return this.#link.fail({ status: 200, reason: 'not an event stream' }, null);
      }
      this.#link.connected();
      await this.#read(response.body, signal);
      return signal.aborted ? null : this.#link.fail({ status: null, reason: 'the event stream ended' }, null);
    } catch (error) {
      return failedRequest(this.#link, error, signal);
    }
  }

  async #read(body: ByteStream, signal: AbortSignal): Promise<void> {
    const reader = body.getReader();
    // The `retry:` hint is left out on purpose: the shared backoff decides, with jitter.
    const parser = new EventStreamParser(this.#onEvent);
    for (;;) {
      const { done, value } = await reader.read();
      if (done || signal.aborted) return;
      if (value) parser.push(value);
      // [protocol] the opening frame's id marks where the stream starts: from then on the server has answered.
      if (parser.lastEventId !== '') {
        this.#cursor = parser.lastEventId;
        this.#link.succeed();
      }
    }
  }

  #onEvent = (event: StreamEvent): void => {
    // [protocol] the cursor after a `missed` comes with the messages that follow it, each with its id.
    if (event.type === 'missed') return this.#delivery.missed();
    if (event.type !== 'message') return;
    this.#cursor = event.lastEventId;
    this.#delivery.message({ id: event.lastEventId, text: event.data, time: Number.NaN });
  };
}
