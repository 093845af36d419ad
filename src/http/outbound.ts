/**
 * The outbound budget: bytes handed to client connections that the kernel
 * has not taken yet. A client that does not read makes the server hold
 * whatever was written for it; this module counts those bytes on every
 * transport, caps their total, and drops a connection that cannot take what
 * it was given within the write timeout.
 *
 * Transports keep their own unsent bytes under the per-connection cap by
 * construction (answers fitted to it, backlogs written in pieces) or by
 * checking `over()`; this module keeps the total and the clock.
 */

/** One connection as the budget sees it; a transport implements it. */
export interface Outlet {
  /** Bytes handed to this connection and not yet taken by the kernel; 0 once it is closed. */
  readonly unsent: number;
  /** Drops the connection now (its socket is destroyed); what it held is given back. */
  cut(): void;
}

/** How the budget is set; see `PollcastOptions`. */
export interface OutboundLimits {
  /** Unsent bytes across all connections. */
  readonly totalBytes: number;
  /** Unsent bytes one connection may hold. */
  readonly connectionBytes: number;
  /** How long handed bytes may stay unsent before the connection is dropped, in ms. */
  readonly writeTimeoutMs: number;
}

/** Counters for `/stats`. */
export interface OutboundStats {
  /** Unsent bytes counted now, across all connections. */
  readonly bytes: number;
  /** Connections with unsent bytes now. */
  readonly connections: number;
  /** Connections dropped since start: over the write timeout, or the slowest when the total was needed. */
  readonly cut: number;
  /** Answers refused since start because the total was spent. */
  readonly refused: number;
}

interface Pending {
  bytes: number;
  /** When these bytes started to wait: the last time the connection had nothing unsent. */
  since: number;
}

/** Sweeps run this often at most, so a stalled connection is cut within about this much of its timeout. */
const SWEEP_MS = 1_000;

/**
 * The budget of one server. Connections with unsent bytes are kept in the
 * order they started to wait, so the first ones are those stuck longest.
 */
export class Outbound {
  readonly limits: OutboundLimits;
  readonly #pending = new Map<Outlet, Pending>();
  #bytes = 0;
  #cut = 0;
  #refused = 0;
  #sweeper: NodeJS.Timeout | undefined;
  readonly #tick = (): void => this.#sweep(Date.now());

  constructor(limits: OutboundLimits) {
    this.limits = limits;
  }

  stats(): OutboundStats {
    return { bytes: this.#bytes, connections: this.#pending.size, cut: this.#cut, refused: this.#refused };
  }

  /**
   * Whether `bytes` more may be handed to `outlet` now. When the total is
   * spent, the connections stuck longest (other than `outlet`) are dropped
   * until the bytes fit; when they still do not, the answer is refused
   * (the caller says so: `503`, or the stream ends) and false returned.
   */
  admit(bytes: number, outlet?: Outlet): boolean {
    const fits = (): boolean => this.#bytes + bytes <= this.limits.totalBytes;
    if (fits()) return true;
    this.#sweep(Date.now());
    for (const [stuck] of this.#pending) {
      if (fits()) break;
      if (stuck !== outlet) this.#drop(stuck);
    }
    if (fits()) return true;
    this.#refused++;
    return false;
  }

  /** Whether `outlet` holds more than one connection may. */
  over(outlet: Outlet): boolean {
    return outlet.unsent > this.limits.connectionBytes;
  }

  /**
   * Counts what `outlet` has unsent now: call it after handing it bytes.
   * Bytes that were already waiting keep their start, so a connection that
   * never empties is cut once the first of them has waited too long.
   */
  handed(outlet: Outlet): void {
    const unsent = outlet.unsent;
    const pending = this.#pending.get(outlet);
    if (unsent === 0) return this.#forget(outlet, pending);
    if (pending) {
      this.#bytes += unsent - pending.bytes;
      pending.bytes = unsent;
      return;
    }
    this.#pending.set(outlet, { bytes: unsent, since: Date.now() });
    this.#bytes += unsent;
    this.#sweeper ??= setInterval(this.#tick, Math.min(SWEEP_MS, this.limits.writeTimeoutMs)).unref();
  }

  /**
   * `outlet` took a piece (its socket drained, or a paced writer's piece
   * went out): what is unsent from now on waits from now.
   */
  flushed(outlet: Outlet): void {
    this.#forget(outlet, this.#pending.get(outlet));
    this.handed(outlet);
  }

  /** Re-measures every waiting connection, forgets those emptied or closed, and drops those past the write timeout. */
  #sweep(now: number): void {
    for (const [outlet, pending] of this.#pending) {
      const unsent = outlet.unsent;
      if (unsent === 0) this.#forget(outlet, pending);
      else if (now - pending.since >= this.limits.writeTimeoutMs) this.#drop(outlet);
      else {
        this.#bytes += unsent - pending.bytes;
        pending.bytes = unsent;
      }
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #drop(outlet: Outlet): void {
    this.#forget(outlet, this.#pending.get(outlet));
    this.#cut++;
    outlet.cut();
  }

  #forget(outlet: Outlet, pending: Pending | undefined): void {
    if (!pending) return;
    this.#bytes -= pending.bytes;
    this.#pending.delete(outlet);
  }
}
