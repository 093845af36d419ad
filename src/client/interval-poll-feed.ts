/**
 * Interval polling: `GET /messages?since=` every `pollInterval` ms, for
 * networks where a held request does not survive. The next request goes
 * out only after the previous answer, so they never overlap. DOM-free.
 */

import { CursorFeed } from './cursor-feed.js';
import { cursorRequest, failedAnswer, failedRequest, receiveBatch } from './http-answer.js';
import type { FeedResponse } from './http-answer.js';
import type { FeedOptions } from './feed-options.js';

/**
 * Follows one channel by asking for what is new on an interval, until `close()`.
 *
 * @example
 * const feed = new IntervalPollFeed({ channel: 'news', pollInterval: 5000, onMessage: show });
 */
export class IntervalPollFeed extends CursorFeed {
  readonly #request: (cursor: string, signal: AbortSignal) => Promise<FeedResponse>;
  readonly #interval: number;

  constructor(options: FeedOptions = {}) {
    super(options);
    const interval = options.pollInterval ?? 2000;
    if (!(interval >= 0 && Number.isFinite(interval))) throw new RangeError('pollInterval must be a number of ms');
    this.#request = cursorRequest(options, 'messages', 'application/json', this.tokens);
    this.#interval = interval;
    this.start();
  }

  /** One request; after an answer, the interval passes before the loop asks again. */
  protected async attempt(signal: AbortSignal): Promise<number | null> {
    try {
      const response = await this.#request(this.cursor, signal);
      if (response.status !== 200) return await failedAnswer(this.link, response, signal, this.tokens);
      const failed = await receiveBatch(this.link, response, signal, this.take);
      if (failed !== null) return failed;
    } catch (error) {
      return failedRequest(this.link, error, signal);
    }
    await this.link.pause(this.#interval);
    return null;
  }
}
