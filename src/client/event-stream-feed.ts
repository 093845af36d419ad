/**
 * Server-sent events read over `fetch` with a streaming body (as the
 * `eventsource` v4 library does), not with the browser's `EventSource`: so
 * it runs the same in browsers and in Node, sends the token as a header,
 * and backs off like every other feed instead of the browser's fixed retry.
 * DOM-free.
 */

import { decodeFrom } from '../protocol.js';
import { CursorFeed } from './cursor-feed.js';
import { EventStreamParser } from './event-stream.js';
import type { StreamEvent } from './event-stream.js';
import { cursorRequest, failedAnswer, failedRequest } from './http-answer.js';
import type { ByteStream, FeedResponse } from './http-answer.js';
import type { FeedOptions } from './feed-options.js';

/**
 * Follows one channel over `GET /events` until `close()`. Each message's
 * `time` is its event's `time:` field (`NaN` from a server that sends none).
 *
 * @example
 * const feed = new EventStreamFeed({ channel: 'news', onMessage: show });
 */
export class EventStreamFeed extends CursorFeed {
  readonly #request: (cursor: string, signal: AbortSignal) => Promise<FeedResponse>;
  /** The stream ended with an `expired` event. */
  #expired = false;

  constructor(options: FeedOptions = {}) {
    super(options);
    this.#request = cursorRequest(options, 'events', 'text/event-stream', this.tokens);
    this.start();
  }

  /** One stream, read until it ends or fails; an end is a failure too (the server never ends one on its own). */
  protected async attempt(signal: AbortSignal): Promise<number | null> {
    try {
      // ?since= rather than Last-Event-ID: the same, and no header that would need a CORS preflight.
      const response = await this.#request(this.cursor, signal);
      if (response.status !== 200) return await failedAnswer(this.link, response, signal, this.tokens);
      const type = response.headers.get('content-type') ?? '';
      if (!type.startsWith('text/event-stream') || !response.body) {
        void response.body
          ?.getReader()
          .cancel()
          .catch(() => undefined);
        return this.link.fail({ status: 200, reason: 'not an event stream' }, null);
      }
      this.link.connected();
      this.tokens.accepted();
      this.#expired = false;
      await this.#read(response.body, signal);
      if (signal.aborted) return null;
      // [protocol] `event: expired` ends a stream whose token expired: renew it and resume now.
      if (this.#expired && (await this.tokens.renew())) return null;
      return this.link.fail({ status: null, reason: this.#expired ? 'token expired' : 'the event stream ended' }, null);
    } catch (error) {
      return failedRequest(this.link, error, signal);
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
        this.moveTo(parser.lastEventId);
        this.link.succeed();
      }
    }
  }

  #onEvent = (event: StreamEvent): void => {
    // [protocol] the cursor after a `missed` comes with the messages that follow it, each with its id.
    if (event.type === 'missed') return this.delivery.missed();
    if (event.type === 'expired') {
      this.#expired = true;
      return;
    }
    if (event.type !== 'message') return;
    this.moveTo(event.lastEventId);
    const from = decodeFrom(event.from);
    this.delivery.message(
      from
        ? { id: event.lastEventId, text: event.data, time: event.time, from }
        : { id: event.lastEventId, text: event.data, time: event.time },
    );
  };
}
