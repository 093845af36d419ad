/**
 * The token a feed presents, and how it gets a new one: a feed given
 * `getToken` asks it again when the server says the token is no good (a
 * `401`, an event stream's `expired` event, a WebSocket closed with 4001),
 * then resumes from its cursor at once — nothing lost, nothing doubled.
 * DOM-free.
 */

/** Fetches a fresh token, e.g. from the application's own server. */
export type GetToken = () => string | Promise<string>;

export class TokenSource {
  #token: string | undefined;
  readonly #getToken: GetToken | undefined;
  /** The last attempt already ran on a renewed token: a second refusal is a failure, not a loop. */
  #renewed = false;

  constructor(token: string | undefined, getToken: GetToken | undefined) {
    if (getToken !== undefined && typeof getToken !== 'function') throw new TypeError('getToken must be a function');
    this.#token = token;
    this.#getToken = getToken;
  }

  /** The token to present now; undefined for none. */
  get token(): string | undefined {
    return this.#token;
  }

  /**
   * The server refused the token: fetch a new one. Resolves true when there
   * is one to retry with now, false when the refusal is to be reported (no
   * `getToken`, the renewed token was refused too, or fetching it failed).
   */
  async renew(): Promise<boolean> {
    if (!this.#getToken || this.#renewed) {
      this.#renewed = false;
      return false;
    }
    try {
      this.#token = await this.#getToken();
    } catch {
      return false;
    }
    this.#renewed = true;
    return true;
  }

  /** An attempt was let in: the next refusal may renew again. */
  accepted(): void {
    this.#renewed = false;
  }
}
