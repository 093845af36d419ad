import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { withRights } from '../auth.js';
import type { Context } from '../context.js';
import { SHUTTING_DOWN, STORAGE_UNAVAILABLE, TOKEN_EXPIRED, TOO_MANY_WAITING, fromHubError, sendError } from '../errors.js';
import { releaseHangup, watchHangup } from '../hangups.js';
import type { Held } from '../hangups.js';
import { SetWait } from '../multi-waiter.js';
import type { SetWaiter } from '../multi-waiter.js';
import type { Batch } from '../../protocol.js';
import { AT_TOKEN_EXPIRY, UNTIMED } from '../poll-clock.js';
import type { Timed } from '../poll-clock.js';
import { readChannelSet, touchPresence, writeChannelBatches } from './channel-set.js';
import type { AdmittedSet } from './channel-set.js';

/**
 * `GET /subscribe?channels=a,b&since=a:CURSOR`: the long poll over several
 * channels. Always JSON: as soon as one channel has news, a batch for every
 * channel (the others empty, at their position); at the timeout, `200` with
 * every channel's position; `401` when the token ends first. One place in
 * the waiting room; the subscriber is listed on each channel until the
 * timeout and a grace.
 */
export function subscribeChannels(req: IncomingMessage, res: ServerResponse, ctx: Context, query: URLSearchParams): void | Promise<void> {
  return withRights(readChannelSet(req, ctx, query), (set) => hold(req, res, ctx, set));
}

function hold(req: IncomingMessage, res: ServerResponse, ctx: Context, set: AdmittedSet): void {
  // A client that left while its token was being verified: its socket will not close again to release a poll.
  if (req.socket.destroyed) return;
  const client = ctx.clientKey(req);
  if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
  touchPresence(ctx, set);
  const poll = new SetPoll(req.socket, res, set.channels, ctx, client);
  try {
    poll.start(ctx, set.since, set.expires);
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
  /** The poll clock's ticket while the poll is timed (`AT_TOKEN_EXPIRY` when its token ends first), else `UNTIMED`. */
  #ticket = UNTIMED;
  #held = true;

  constructor(socket: Socket, res: ServerResponse, channels: readonly string[], ctx: Context, client: string) {
    this.#socket = socket;
    this.#res = res;
    this.#ctx = ctx;
    this.#client = client;
    this.#wait = new SetWait(channels, this);
  }

  start(ctx: Context, since: ReadonlyMap<string, string>, expires: number): void {
    this.#wait.start(ctx.hub, since);
    this.#ticket = ctx.pollClock.schedule(this, expires);
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

  /** Time is up: every channel's position, or 503 when a hub still asking its storage has none; 401 when the token ended first. */
  expire(): void {
    const tokenEnds = this.#ticket === AT_TOKEN_EXPIRY;
    this.#stop();
    if (tokenEnds) {
      this.#wait.cancel();
      sendError(this.#res, TOKEN_EXPIRED);
    } else if (!this.#wait.expire()) sendError(this.#res, STORAGE_UNAVAILABLE);
  }

  #stop(): void {
    this.#ctx.pollClock.delete(this, this.#ticket);
    this.#ticket = UNTIMED;
    releaseHangup(this.#socket, this);
    if (this.#held) {
      this.#held = false;
      this.#ctx.room.leave(this.#client);
    }
  }
}
