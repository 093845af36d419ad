import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { admit } from '../admission.js';
import type { Admitted } from '../admission.js';
import { withRights } from '../auth.js';
import { sendAnswer, writeBatch } from '../batch-answer.js';
import { releaseHangup, watchHangup } from '../hangups.js';
import { presenceGrace } from '../context.js';
import type { Context } from '../context.js';
import { SHUTTING_DOWN, STORAGE_UNAVAILABLE, TOKEN_EXPIRED, TOO_MANY_WAITING, fromHubError, sendError } from '../errors.js';
import type { Held } from '../hangups.js';
import type { Subscription, Waiter } from '../../hub.js';
import * as metrics from '../../metrics.js';
import { idleAsEmptyText, wantsJson } from '../negotiate.js';
import type { Outbound } from '../outbound.js';
import { AT_TOKEN_EXPIRY, UNTIMED } from '../poll-clock.js';
import type { Timed } from '../poll-clock.js';
import { encodeFrom, HEADER } from '../../protocol.js';
import type { Batch } from '../../protocol.js';
import { wantsChannelSet } from './channel-set.js';
import { subscribeChannels } from './subscribe-channels.js';

/**
 * `GET /subscribe[/CHANNEL][?since=CURSOR]`: the long poll. Answers with the
 * messages after `since` (or the next one), `204` when the poll times out,
 * `401` when the token that let it in expires first.
 */
export function subscribe(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Context,
  channel: string,
  query: URLSearchParams,
): void | Promise<void> {
  if (wantsChannelSet(query)) return subscribeChannels(req, res, ctx, query);
  return withRights(admit(ctx, req, query, 'subscribe', channel), (admitted) => hold(req, res, ctx, channel, query, admitted));
}

function hold(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams, admitted: Admitted): void {
  // A client that left while its token was being verified: its socket will not close again to release a poll.
  if (req.socket.destroyed) return;
  const client = ctx.clientKey(req);
  if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
  // Listed until this poll's timeout and a grace: by then the next poll has renewed it, or it has gone.
  if (admitted.from)
    ctx.presence.touch(channel, admitted.from, Date.now() + ctx.options.pollTimeoutMs + presenceGrace(ctx.options.pollTimeoutMs));
  metrics.held('longpoll', 1);
  const poll = new LongPoll(req.socket, res, wantsJson(req), ctx, client, idleAsEmptyText(req, query));
  try {
    poll.start(ctx, channel, query.get('since') ?? undefined, admitted.grant.expires);
  } catch (error) {
    poll.abandon();
    throw error;
  }
}

class LongPoll implements Waiter, Held, Timed {
  readonly #socket: Socket;
  readonly #res: ServerResponse;
  readonly #json: boolean;
  readonly #ctx: Context;
  readonly #client: string;
  readonly #idleAsEmptyText: boolean;
  readonly #arrived = Date.now();
  #subscription: Subscription | undefined;
  /** The poll clock's ticket while the poll is timed (`AT_TOKEN_EXPIRY` when its token ends first), else `UNTIMED`. */
  #ticket = UNTIMED;
  #held = true;

  constructor(socket: Socket, res: ServerResponse, json: boolean, ctx: Context, client: string, idleAsEmptyText: boolean) {
    this.#socket = socket;
    this.#res = res;
    this.#json = json;
    this.#ctx = ctx;
    this.#client = client;
    this.#idleAsEmptyText = idleAsEmptyText;
  }

  start(ctx: Context, channel: string, since: string | undefined, expires: number): void {
    // The hub never answers from inside subscribe(), so the timeout and the
    // close listener are in place before any answer can come.
    this.#subscription = ctx.hub.subscribe(channel, since, this);
    this.#ticket = ctx.pollClock.schedule(this, expires);
    watchHangup(this.#socket, this);
  }

  /** The client left before an answer (or the poll never started): forget it now, not at the timeout. */
  abandon(): void {
    this.#stop();
    this.#subscription?.cancel();
  }

  /** Returns how many messages the answer carries: those that fit in one answer; in plain text, only the first. */
  deliver(batch: Batch): number {
    this.#stop();
    if (batch.missed) metrics.missed('longpoll');
    const outbound = this.#ctx.outbound;
    const sent = this.#json ? writeBatch(this.#res, batch, outbound) : writeFirst(this.#res, batch, outbound);
    metrics.wrote('longpoll', sent, this.#arrived);
    return sent.messages.length;
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
    const tokenEnds = this.#ticket === AT_TOKEN_EXPIRY;
    this.#stop();
    const subscription = this.#subscription!;
    subscription.cancel();
    if (tokenEnds) sendError(this.#res, TOKEN_EXPIRED);
    else if (subscription.cursor === undefined) sendError(this.#res, STORAGE_UNAVAILABLE);
    else if (this.#idleAsEmptyText) writeEmptyText(this.#res, subscription.cursor);
    else writeEmpty(this.#res, subscription.cursor, false);
  }

  #stop(): void {
    this.#ctx.pollClock.delete(this, this.#ticket);
    this.#ticket = UNTIMED;
    releaseHangup(this.#socket, this);
    if (this.#held) {
      this.#held = false;
      this.#ctx.room.leave(this.#client);
      metrics.held('longpoll', -1);
    }
  }
}

/**
 * Plain-text clients (the seed's page, curl) get one message per answer; the
 * cursor header lets them resume from it to get the next. Returns the batch
 * of what was answered.
 */
function writeFirst(res: ServerResponse, batch: Batch, outbound: Outbound): Batch {
  const message = batch.messages[0];
  if (!message) {
    writeEmpty(res, batch.cursor, batch.missed);
    return batch;
  }
  const body = Buffer.from(message.text);
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain;charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
    [HEADER.id]: message.id,
    [HEADER.time]: message.time,
    [HEADER.cursor]: message.id,
  };
  if (message.from) headers[HEADER.from] = encodeFrom(message.from);
  if (batch.missed) headers[HEADER.missed] = 'true';
  sendAnswer(res, outbound, body, headers);
  return batch.messages.length === 1 ? batch : { messages: [message], missed: batch.missed, cursor: message.id };
}

function writeEmpty(res: ServerResponse, cursor: string, missed: boolean): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store', [HEADER.cursor]: cursor };
  if (missed) headers[HEADER.missed] = 'true';
  res.writeHead(204, headers);
  res.end();
}

/**
 * The idle answer for a page's plain-text poll without a cursor (see
 * `idleAsEmptyText`): `200` with an empty body, which no message can be
 * (an empty publish is refused), and the cursor, as a `204` would carry it.
 */
function writeEmptyText(res: ServerResponse, cursor: string): void {
  res.writeHead(200, {
    'content-type': 'text/plain;charset=utf-8',
    'content-length': 0,
    'cache-control': 'no-store',
    [HEADER.cursor]: cursor,
  });
  res.end();
}
