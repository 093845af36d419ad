import type { Socket } from 'node:net';

/** Something held open for a client, to be let go when the client hangs up. */
export interface Held {
  abandon(): void;
}

/**
 * What is held on each connection. A request pipelined behind another has
 * no response socket of its own yet (its `res` never sees `'close'`), so
 * hang-ups are watched on the connection: one listener per socket, however
 * many requests it carries.
 */
const heldBySocket = new WeakMap<Socket, Set<Held>>();

/** Calls `held.abandon()` when `socket` closes, unless `release()` came first. */
export function watchHangup(socket: Socket, held: Held): void {
  let all = heldBySocket.get(socket);
  if (!all) {
    all = new Set();
    heldBySocket.set(socket, all);
    socket.once('close', abandonAll);
  }
  all.add(held);
}

/** Stops watching for `held`. */
export function releaseHangup(socket: Socket, held: Held): void {
  heldBySocket.get(socket)?.delete(held);
}

function abandonAll(this: Socket): void {
  const all = heldBySocket.get(this);
  heldBySocket.delete(this);
  for (const held of all ?? []) held.abandon();
}
