import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { withRights } from '../auth.js';
import type { ChannelSet } from '../../channel-set.js';
import type { Context } from '../context.js';
import { SHUTTING_DOWN, STORAGE_UNAVAILABLE, TOO_MANY_WAITING, fromHubError, sendError } from '../errors.js';
import { releaseHangup, watchHangup } from '../hangups.js';
import type { Held } from '../hangups.js';
import { SetWait } from '../multi-waiter.js';
import type { SetWaiter } from '../multi-waiter.js';
import type { Batch } from '../../protocol.js';
import type { Timed } from '../poll-clock.js';
import { readChannelSet, writeChannelBatches } from './channel-set.js';

/**
 * `GET /subscribe?channels=a,b&since=a:CURSOR`: the long poll over several
 * channels. Always JSON: as soon as one channel has news, a batch for every
 * channel (the others empty, at their position); at the timeout, `200` with
 * every channel's position. One place in the waiting room.
 */
export function subscribeChannels(req: IncomingMessage, res: ServerResponse, ctx: Context, query: URLSearchParams): void | Promise<void> {
  return withRights(readChannelSet(req, ctx, query), (set) => hold(req, res, ctx, set));
}

function hold(req: IncomingMessage, res: ServerResponse, ctx: Context, set: ChannelSet): void {
  // A client that left while its token was being verified: its socket will not close again to release a poll.
  if (req.socket.destroyed) return;
  const client = ctx.clientKey(req);
  if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
  const poll = new SetPoll(req.socket, res, set.channels, ctx, client);
  try {
    poll.start(ctx, set.since);
  } catch (error) {
    poll.abandon();
    throw error;
  }
}

class SetPoll implements SetWaiter, Held, Timed {
  readonly #socket: Socket;
  readonly #res: ServerResponse;
  readonly #ctx: Context;
  readonly #client: string;
  readonly #wait: SetWait;
  /** The poll clock's ticket while the poll is on it, else -1. */
  #ticket = -1;
  #held = true;

  constructor(socket: Socket, res: ServerResponse, channels: readonly string[], ctx: Context, client: string) {
    this.#socket = socket;
    this.#res = res;
    this.#ctx = ctx;
    this.#client = client;
    this.#wait = new SetWait(channels, this);
  }

  start(ctx: Context, since: ReadonlyMap<string, string>): void {
    this.#wait.start(ctx.hub, since);
    const ticket = ctx.pollClock.pick();
    ctx.pollClock.add(this, ticket);
    this.#ticket = ticket;
    watchHangup(this.#socket, this);
  }

  abandon(): void {
    this.#stop();
    this.#wait.cancel();
  }

  deliver(batches: ReadonlyMap<string, Batch>): void {
    this.#stop();
    writeChannelBatches(this.#res, batches, this.#ctx.outbound);
  }

  release(): void {
    this.#stop();
    sendError(this.#res, SHUTTING_DOWN);
  }

  fail(error: Error): void {
    this.#stop();
    sendError(this.#res, fromHubError(error));
  }

  /** Time is up: every channel's position, or 503 when a hub still asking its storage has none. */
  expire(): void {
    this.#stop();
    if (!this.#wait.expire()) sendError(this.#res, STORAGE_UNAVAILABLE);
  }

  #stop(): void {
    if (this.#ticket >= 0) {
      this.#ctx.pollClock.delete(this, this.#ticket);
      this.#ticket = -1;
    }
    releaseHangup(this.#socket, this);
    if (this.#held) {
      this.#held = false;
      this.#ctx.room.leave(this.#client);
    }
  }
}
