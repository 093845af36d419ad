import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { clientKey } from '../client-address.js';
import { releaseHangup, watchHangup } from '../hangups.js';
import type { Context } from '../context.js';
import { SHUTTING_DOWN, STORAGE_UNAVAILABLE, TOO_MANY_WAITING, fromHubError, sendError } from '../errors.js';
import type { Held } from '../hangups.js';
import type { Subscription, Waiter } from '../hub.js';
import { wantsJson } from '../negotiate.js';
import { encodeBatch, HEADER } from '../protocol.js';
import type { Batch } from '../protocol.js';
import type { WaitingRoom } from '../waiting-room.js';
import { wantsChannelSet } from './channel-set.js';
import { subscribeChannels } from './subscribe-channels.js';


/** Polls end up to this fraction early, so thousands parked together do not all come back at once. */
const JITTER = 0.1;
/**
 * The jitter takes this many distinct values. Node keeps one timer list per
 * duration: a few shared durations make each poll's timer an O(1) append,
 * where a random duration each would cost a priority-queue insert.
 */
const JITTER_STEPS = 16;

/**
 * A fan-out hands the same batch to every waiter of a channel: encode it once
 * and write the same bytes to every socket. An encoding lives as long as its
 * batch: the fan-out, or the hub's batch cache, whose budget counts it.
 */
const encoded = new WeakMap<Batch, Buffer>();

/**
 * `GET /subscribe[/CHANNEL][?since=CURSOR]`: the long poll. Answers with the
 * messages after `since` (or the next one), `204` when the poll times out.
 */
export function subscribe(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams): void {
  if (wantsChannelSet(query)) return subscribeChannels(req, res, ctx, query);
  ctx.requireSubscribeToken(req, query);
  const client = clientKey(req);
  if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
  const poll = new LongPoll(req.socket, res, wantsJson(req), ctx.room, client);
  try {
    poll.start(ctx, channel, query.get('since') ?? undefined);
  } catch (error) {
    poll.abandon();
    throw error;
  }
}

class LongPoll implements Waiter, Held {
  readonly #socket: Socket;
  readonly #res: ServerResponse;
  readonly #json: boolean;
  readonly #room: WaitingRoom;
  readonly #client: string;
  #subscription: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  #held = true;

  constructor(socket: Socket, res: ServerResponse, json: boolean, room: WaitingRoom, client: string) {
    this.#socket = socket;
    this.#res = res;
    this.#json = json;
    this.#room = room;
    this.#client = client;
  }

  start(ctx: Context, channel: string, since: string | undefined): void {
    // The hub never answers from inside subscribe(), so the timer and the
    // close listener are in place before any answer can come.
    this.#subscription = ctx.hub.subscribe(channel, since, this);
    const step = Math.floor(Math.random() * JITTER_STEPS) / JITTER_STEPS;
    const timeout = Math.round(ctx.options.pollTimeoutMs * (1 - step * JITTER));
    this.#timer = setTimeout(expire, timeout, this);
    watchHangup(this.#socket, this);
  }

  /** The client left before an answer (or the poll never started): forget it now, not at the timeout. */
  abandon(): void {
    this.#stop();
    this.#subscription?.cancel();
  }

  /** Returns how many messages the answer carries: a plain-text one, only the first. */
  deliver(batch: Batch): number {
    this.#stop();
    if (this.#json) writeBatch(this.#res, batch);
    else writeFirst(this.#res, batch);
    return this.#json ? batch.messages.length : Math.min(1, batch.messages.length);
  }

  release(): void {
    this.#stop();
    sendError(this.#res, SHUTTING_DOWN);
  }

  /** The hub learnt only after subscribe() that the poll cannot be served (bad cursor, storage down). */
  fail(error: Error): void {
    this.#stop();
    sendError(this.#res, fromHubError(error));
  }

  /**
   * The poll timed out: 204 says "nothing yet, poll again from this cursor".
   * A hub still asking its storage after all this time has no position to
   * give: that is the storage failing, and retryable.
   */
  expire(): void {
    this.#stop();
    const subscription = this.#subscription!;
    subscription.cancel();
    if (subscription.cursor === undefined) sendError(this.#res, STORAGE_UNAVAILABLE);
    else writeEmpty(this.#res, subscription.cursor, false);
  }

  #stop(): void {
    clearTimeout(this.#timer);
    releaseHangup(this.#socket, this);
    if (this.#held) {
      this.#held = false;
      this.#room.leave(this.#client);
    }
  }
}

function expire(poll: LongPoll): void {
  poll.expire();
}

/** Answers `200` with a JSON batch, encoded once however many clients it goes to. */
export function writeBatch(res: ServerResponse, batch: Batch): void {
  let body = encoded.get(batch);
  if (!body) {
    body = Buffer.from(encodeBatch(batch));
    encoded.set(batch, body);
  }
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': body.length,
    'cache-control': 'no-store',
    [HEADER.cursor]: batch.cursor,
  });
  res.end(body);
}

/**
 * Plain-text clients (the seed's page, curl) get one message per answer; the
 * cursor header lets them resume from it to get the next.
 */
function writeFirst(res: ServerResponse, batch: Batch): void {
  const message = batch.messages[0];
  if (!message) {
    writeEmpty(res, batch.cursor, batch.missed);
    return;
  }
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain;charset=utf-8',
    'content-length': Buffer.byteLength(message.text),
    'cache-control': 'no-store',
    [HEADER.id]: message.id,
    [HEADER.time]: message.time,
    [HEADER.cursor]: message.id,
  };
  if (batch.missed) headers[HEADER.missed] = 'true';
  res.writeHead(200, headers);
  res.end(message.text);
}

function writeEmpty(res: ServerResponse, cursor: string, missed: boolean): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store', [HEADER.cursor]: cursor };
  if (missed) headers[HEADER.missed] = 'true';
  res.writeHead(204, headers);
  res.end();
}
