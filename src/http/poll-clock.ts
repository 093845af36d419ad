/** What a poll clock times out. */
export interface Timed {
  expire(): void;
}

/** Polls end up to this fraction early, so thousands parked together do not all come back at once. */
const JITTER = 0.1;
/** The jitter takes this many distinct values: each is one queue of the clock. */
const STEPS = 16;

/** The ticket of a poll timed by its token's expiry, which comes before its timeout would. */
export const AT_TOKEN_EXPIRY = -2;
/** The ticket of a poll that is not timed (not yet, or no longer). */
export const UNTIMED = -1;

/**
 * The poll timeouts of one server. Every poll gets one of 16 durations (the
 * poll timeout, less up to 10 % in even steps, picked at random); the polls of
 * one duration time out in the order they came, so each duration is a queue
 * in arrival order, and one timer waits for the earliest head of them all.
 * A poll costs an entry in one queue, not a timer object of its own, and
 * parking or answering it is a map insert or delete.
 */
export class PollClock {
  readonly #durations: number[] = [];
  /** Per duration: the polls parked with it, each with the clock time it is due at, earliest first. */
  readonly #queues: Map<Timed, number>[] = [];
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The clock time the timer fires at. */
  #armedAt = Infinity;
  readonly #fire = (): void => this.#expireDue();
  /** Polls whose token ends before their timeout: each has a timer of its own, at the token's expiry. */
  readonly #tokenTimers = new Map<Timed, NodeJS.Timeout>();

  /** `timeoutMs`: the longest a poll waits (the server's `pollTimeoutMs`). */
  constructor(timeoutMs: number) {
    for (let step = 0; step < STEPS; step++) {
      this.#durations.push(Math.round(timeoutMs * (1 - (step / STEPS) * JITTER)));
      this.#queues.push(new Map());
    }
  }

  /** One of the durations, at random: the ticket that `add()` and `delete()` take. */
  pick(): number {
    return Math.floor(Math.random() * STEPS);
  }

  /** How long a poll with this ticket waits, in ms. */
  duration(ticket: number): number {
    return this.#durations[ticket]!;
  }

  /** Polls on the clock now. */
  get size(): number {
    return this.#count;
  }

  /** Times `poll` out after the duration of `ticket` (from `pick()`). */
  add(poll: Timed, ticket: number): void {
    const due = now() + this.#durations[ticket]!;
    this.#queues[ticket]!.set(poll, due);
    this.#count++;
    if (due < this.#armedAt) this.#arm(due);
  }

  /**
   * Times `poll` out after one of the durations, or at `expires` (ms since
   * the epoch) when the token that let it in ends before that: then
   * `expire()` comes with the ticket `AT_TOKEN_EXPIRY`, which the poll tells
   * its client apart (`401`). Returns the ticket for `delete()`.
   */
  schedule(poll: Timed, expires: number): number {
    const ticket = this.pick();
    const left = expires - Date.now();
    if (left >= this.#durations[ticket]!) {
      this.add(poll, ticket);
      return ticket;
    }
    this.#tokenTimers.set(
      poll,
      setTimeout(() => poll.expire(), Math.max(0, left)),
    );
    return AT_TOKEN_EXPIRY;
  }

  /** Takes `poll` off the clock (answered, or gone); nothing when it is not on it. */
  delete(poll: Timed, ticket: number): void {
    if (ticket === AT_TOKEN_EXPIRY) {
      clearTimeout(this.#tokenTimers.get(poll));
      this.#tokenTimers.delete(poll);
      return;
    }
    if (!this.#queues[ticket]?.delete(poll)) return;
    if (--this.#count === 0) this.#disarm();
  }

  #expireDue(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const time = now();
    const due: { poll: Timed; at: number }[] = [];
    let next = Infinity;
    for (const queue of this.#queues) {
      for (const [poll, at] of queue) {
        if (at > time) {
          next = Math.min(next, at);
          break;
        }
        queue.delete(poll);
        due.push({ poll, at });
      }
    }
    this.#count -= due.length;
    if (next !== Infinity) this.#arm(next);
    // A late timer finds several queues due: they expire in the order they were due.
    due.sort((a, b) => a.at - b.at);
    // Off the clock first: an expiring poll takes itself off, and may park others.
    for (const { poll } of due) poll.expire();
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedAt = at;
    // Parked polls hold their sockets, which keep the process alive; the clock alone must not.
    this.#timer = setTimeout(this.#fire, Math.max(0, at - now())).unref();
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }
}

/** Whole milliseconds on a clock that never goes back (wall-clock changes do not move it). */
function now(): number {
  return Math.round(performance.now());
}
