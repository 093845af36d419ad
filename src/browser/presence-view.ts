/**
 * Who is here, on the page: asks `GET /presence[/CHANNEL]` every few
 * seconds and shows how many are here and who. Thin DOM; the names go in as
 * text only.
 */

import { endpointUrl, withToken } from '../client/http-answer.js';
import type { FeedFetch } from '../client/http-answer.js';
import type { From } from '../protocol.js';

/** Options of the presence line. */
export interface PresenceViewOptions {
  base?: string;
  channel?: string;
  /** The current token, asked at each request. */
  token?: () => string | undefined;
  /** Between two asks, in ms. Default 5000. */
  interval?: number;
  fetch?: FeedFetch;
}

export class PresenceView {
  readonly #elem: HTMLElement;
  #url: string;
  readonly #base: string | undefined;
  readonly #token: () => string | undefined;
  readonly #fetch: FeedFetch;
  readonly #interval: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(elem: HTMLElement, options: PresenceViewOptions = {}) {
    this.#elem = elem;
    this.#base = options.base;
    this.#url = endpointUrl(options.base, 'presence', options.channel);
    this.#token = options.token ?? (() => undefined);
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#interval = options.interval ?? 5_000;
    void this.#ask();
  }

  /** Shows who is in `channel` from now on (a page switching rooms): cleared, then asked at once. */
  set channel(channel: string) {
    const url = endpointUrl(this.#base, 'presence', channel);
    if (url === this.#url) return;
    this.#url = url;
    this.#show([]);
    clearTimeout(this.#timer);
    if (!this.#closed) void this.#ask();
  }

  /** Stops asking. Idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #ask(): Promise<void> {
    const url = this.#url;
    try {
      const response = await this.#fetch(url, {
        headers: withToken({ accept: 'application/json' }, this.#token()),
        cache: 'no-store',
        signal: AbortSignal.timeout(10_000),
      });
      // An answer about the room shown before a switch is not shown.
      if (response.status === 200 && url === this.#url) this.#show((JSON.parse(await response.text()) as { here: From[] }).here);
    } catch {
      // Presence is a hint: the next ask tries again.
    }
    if (!this.#closed && url === this.#url) this.#timer = setTimeout(() => void this.#ask(), this.#interval);
  }

  #show(here: readonly From[]): void {
    const names = here.map((from) => from.name);
    this.#elem.dataset.count = String(names.length);
    this.#elem.textContent = names.length === 0 ? '' : `${names.length} here: ${names.join(', ')}`;
    this.#elem.title = here.map((from) => `${from.name}${from.verified ? '' : ' (name not verified)'}`).join('\n');
  }
}
