import type { Socket } from 'node:net';

/** Something held open for a client, to be let go when the client hangs up. */
export interface Held {
  abandon(): void;
}

/** A connection watched for its close that holds nothing now. */
const NOTHING = 0;

/**
 * What is held on each connection: nothing, one thing (a connection carries
 * one poll at a time but when requests are pipelined), or a set. A request
 * pipelined behind another has no response socket of its own yet (its `res`
 * never sees `'close'`), so hang-ups are watched on the connection: one
 * listener per socket, however many requests it carries, put in place with
 * its first and never taken off (the socket closes once). Kept on the
 * socket itself: a property read, where a map keyed by socket cost a hash
 * lookup on every park and every answer (2.4 % of the server's busy time in B).
 */
const HELD = Symbol('pollcast.held');

/** A socket as this module sees it: what it holds, once it is watched. */
interface Watched extends Socket {
  [HELD]?: Held | Set<Held> | typeof NOTHING;
}

/** Calls `held.abandon()` when `socket` closes, unless `release()` came first. */
export function watchHangup(socket: Watched, held: Held): void {
  const now = socket[HELD];
  if (now === undefined) socket.on('close', abandonAll);
  if (now === undefined || now === NOTHING) socket[HELD] = held;
  else if (now instanceof Set) now.add(held);
  else socket[HELD] = new Set([now, held]);
}

/** Stops watching for `held`. */
export function releaseHangup(socket: Watched, held: Held): void {
  const now = socket[HELD];
  if (now === held) socket[HELD] = NOTHING;
  else if (now instanceof Set) now.delete(held);
}

function abandonAll(this: Watched): void {
  const now = this[HELD];
  this[HELD] = NOTHING;
  if (now instanceof Set) for (const held of now) held.abandon();
  else if (now !== undefined && now !== NOTHING) now.abandon();
}
