/**
 * The long-poll loop of the browser client, free of the DOM so that it runs
 * under tap in Node with a fake `fetch`. One `LongPollFeed` follows one channel:
 * it loads the history (`since=0`), then resumes from each batch's cursor,
 * delivers every message once and in order, and retries with backoff (the
 * `Reconnector` it shares with the other transports).
 */

import { HEADER } from '../protocol.js';
import { CursorFeed } from './cursor-feed.js';
import { cursorRequest, failedAnswer, failedRequest, receiveBatch } from './http-answer.js';
import type { FeedResponse } from './http-answer.js';
import type { FeedOptions } from './feed-options.js';
import { CONNECTING } from './reconnect.js';

/**
 * Follows one channel by long polling until `close()`.
 *
 * @example
 * const feed = new LongPollFeed({ channel: 'news', onMessage: (m) => console.log(m.text) });
 * // later
 * feed.close();
 */
export class LongPollFeed extends CursorFeed {
  readonly #request: (cursor: string, signal: AbortSignal) => Promise<FeedResponse>;
  readonly #liveAfter: number;

  constructor(options: FeedOptions = {}) {
    super(options);
    const liveAfter = options.liveAfter ?? 1500;
    if (!(liveAfter >= 0)) throw new RangeError('liveAfter must be a number of ms');
    this.#request = cursorRequest(options, 'subscribe', 'application/json', this.tokens);
    this.#liveAfter = liveAfter;
    this.start();
  }

  /** Sends one poll and handles its answer; returns the delay before a retry, or `null` to poll again now. */
  protected async attempt(signal: AbortSignal): Promise<number | null> {
    // [protocol] a parked poll sends nothing until it ends, so its lasting is the only sign that it was taken.
    const parked = this.link.state === CONNECTING ? setTimeout(() => this.link.connected(), this.#liveAfter) : undefined;
    try {
      const response = await this.#request(this.cursor, signal);
      if (response.status === 200) return await receiveBatch(this.link, response, signal, this.take);
      if (response.status === 204) {
        if (signal.aborted) return null;
        // [protocol] an empty answer after the poll timeout; the cursor may have moved (e.g. history trimmed).
        this.moveTo(response.headers.get(HEADER.cursor) ?? this.cursor);
        this.tokens.accepted();
        this.link.succeed();
        return null;
      }
      return await failedAnswer(this.link, response, signal, this.tokens);
    } catch (error) {
      return failedRequest(this.link, error, signal);
    } finally {
      clearTimeout(parked);
    }
  }
}
