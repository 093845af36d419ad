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
 * its first and never taken off (the socket closes once). A map keyed by
 * socket, not a property on it: a property of ours on Node's sockets gives
 * them a shape of their own, and Node's own socket code got slower for it
 * (+20 % CPU per delivery, bench/README.md).
 */
const heldBySocket = new WeakMap<Socket, Held | Set<Held> | typeof NOTHING>();

/** Calls `held.abandon()` when `socket` closes, unless `release()` came first. */
export function watchHangup(socket: Socket, held: Held): void {
  const now = heldBySocket.get(socket);
  if (now === undefined) socket.on('close', abandonAll);
  if (now === undefined || now === NOTHING) heldBySocket.set(socket, held);
  else if (now instanceof Set) now.add(held);
  else heldBySocket.set(socket, new Set([now, held]));
}

/** Stops watching for `held`. */
export function releaseHangup(socket: Socket, held: Held): void {
  const now = heldBySocket.get(socket);
  if (now === held) heldBySocket.set(socket, NOTHING);
  else if (now instanceof Set) now.delete(held);
}

function abandonAll(this: Socket): void {
  const now = heldBySocket.get(this);
  heldBySocket.delete(this);
  if (now instanceof Set) for (const held of now) held.abandon();
  else if (now !== undefined && now !== NOTHING) now.abandon();
}
