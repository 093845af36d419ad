/**
 * Counts held polls against two limits: for the whole server and per client,
 * so that one client cannot take every place.
 */
export class WaitingRoom {
  readonly #maxTotal: number;
  readonly #maxPerClient: number;
  readonly #byClient = new Map<string, number>();
  #total = 0;

  constructor(maxTotal: number, maxPerClient: number) {
    this.#maxTotal = maxTotal;
    this.#maxPerClient = maxPerClient;
  }

  /** Takes a place for `client`; false when the server or that client is full. */
  enter(client: string): boolean {
    const held = this.#byClient.get(client) ?? 0;
    if (this.#total >= this.#maxTotal || held >= this.#maxPerClient) return false;
    this.#byClient.set(client, held + 1);
    this.#total++;
    return true;
  }

  /** Gives back a place taken by `enter()`. */
  leave(client: string): void {
    const held = this.#byClient.get(client) ?? 0;
    if (held <= 1) this.#byClient.delete(client);
    else this.#byClient.set(client, held - 1);
    this.#total--;
  }

  get total(): number {
    return this.#total;
  }
}
