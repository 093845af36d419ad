/** What a heartbeat keeps alive: an event stream writes a comment, a WebSocket pings. */
export interface Beating {
  beat(): void;
}

/**
 * One server's heartbeat: a set of members and one interval at the server's
 * `heartbeatMs`, started by the first member, stopped by the last one leaving
 * and by `close()` (after which nothing starts it again).
 */
export class Heartbeat {
  readonly #periodMs: number;
  readonly #members = new Set<Beating>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #beat = (): void => {
    for (const member of this.#members) member.beat();
  };

  constructor(periodMs: number) {
    this.#periodMs = periodMs;
  }

  add(member: Beating): void {
    if (this.#closed) return;
    this.#members.add(member);
    this.#timer ??= setInterval(this.#beat, this.#periodMs).unref();
  }

  delete(member: Beating): void {
    this.#members.delete(member);
    if (this.#members.size === 0) this.#stop();
  }

  /** The server is closing: no more beats, whoever is left. */
  close(): void {
    this.#closed = true;
    this.#members.clear();
    this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
