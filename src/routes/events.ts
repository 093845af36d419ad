import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { clientKey } from '../client-address.js';
import type { Context } from '../context.js';
import { SHUTTING_DOWN, TOO_MANY_WAITING, fromHubError, sendError } from '../errors.js';
import { releaseHangup, watchHangup } from '../hangups.js';
import type { Held } from '../hangups.js';
import type { Hub, Subscription, Waiter } from '../hub.js';
import type { Batch } from '../protocol.js';
import { batchFrames, HEARTBEAT, openingFrame } from '../sse.js';
import type { WaitingRoom } from '../waiting-room.js';
import { wantsChannelSet } from './channel-set.js';
import { eventsChannels } from './events-channels.js';


/** How long a client waits before reconnecting (the `retry:` hint), in ms. */
const RETRY_MS = 2_000;

const HEADERS = {
  'content-type': 'text/event-stream;charset=utf-8',
  'cache-control': 'no-store',
  // nginx and others buffer responses unless told not to.
  'x-accel-buffering': 'no',
};

/**
 * `GET /events[/CHANNEL]`: the channel as server-sent events, from the
 * `Last-Event-ID` header (a reconnecting `EventSource`), else `?since=`,
 * else from now. One stream holds one place in the waiting room.
 */
export function events(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams): void {
  if (wantsChannelSet(query)) return eventsChannels(req, res, ctx, query);
  ctx.requireSubscribeToken(req, query);
  const client = clientKey(req);
  if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
  const lastEventId = req.headers['last-event-id'];
  const since = (typeof lastEventId === 'string' && lastEventId) || query.get('since') || undefined;
  const stream = new EventStream(req.socket, res, ctx, channel, client);
  try {
    stream.start(since);
  } catch (error) {
    stream.abandon();
    throw error;
  }
}

/**
 * Every open stream in this process, for the one heartbeat timer they share
 * (its period is that of the first stream's server).
 */
const open = new Set<EventStream>();
let heartbeat: NodeJS.Timeout | undefined;

function beat(): void {
  for (const stream of open) stream.beat();
}

class EventStream implements Waiter, Held {
  readonly #socket: Socket;
  readonly #res: ServerResponse;
  readonly #hub: Hub;
  readonly #room: WaitingRoom;
  readonly #channel: string;
  readonly #client: string;
  readonly #maxBuffered: number;
  readonly #heartbeatMs: number;
  #subscription: Subscription | undefined;
  #opened = false;
  #ended = false;

  constructor(socket: Socket, res: ServerResponse, ctx: Context, channel: string, client: string) {
    this.#socket = socket;
    this.#res = res;
    this.#hub = ctx.hub;
    this.#room = ctx.room;
    this.#channel = channel;
    this.#client = client;
    this.#maxBuffered = ctx.options.streamBufferBytes;
    this.#heartbeatMs = ctx.options.heartbeatMs;
  }

  start(since: string | undefined): void {
    // Subscribing first: a bad cursor is still a plain 400, not a broken stream.
    // A hub that must ask its storage first opens the stream from started().
    this.#subscription = this.#hub.subscribe(this.#channel, since, this);
    watchHangup(this.#socket, this);
    if (this.#subscription.cursor !== undefined) this.started();
  }

  /** The starting point is known and valid: the stream begins. */
  started(): void {
    if (this.#opened || this.#ended) return;
    this.#opened = true;
    this.#res.writeHead(200, HEADERS);
    this.#res.write(openingFrame(RETRY_MS, this.#subscription!.cursor!));
    open.add(this);
    heartbeat ??= setInterval(beat, this.#heartbeatMs).unref();
  }

  deliver(batch: Batch): void {
    if (this.#ended) return;
    this.started();
    this.#res.write(batchFrames(batch));
    // A reader this far behind is cut: it resumes from its Last-Event-ID
    // instead of making the server hold ever more for it.
    if (this.#res.writableLength > this.#maxBuffered) {
      this.#end();
      this.#res.destroy();
      return;
    }
    this.#subscription = this.#hub.subscribe(this.#channel, batch.cursor, this);
  }

  /** The hub is closing: end the stream; the client reconnects to whoever serves next. */
  release(): void {
    const opened = this.#opened;
    this.#end();
    if (!opened) return sendError(this.#res, SHUTTING_DOWN);
    this.#res.end();
    // The stream was the connection's last word: close it rather than leave it idle for keep-alive.
    this.#socket.end();
  }

  /** Before the stream opened, an answer like any other; after, the end of it (the client resumes). */
  fail(error: Error): void {
    const opened = this.#opened;
    this.#end();
    if (opened) this.#res.destroy();
    else sendError(this.#res, fromHubError(error));
  }

  abandon(): void {
    this.#end();
    this.#subscription?.cancel();
  }

  beat(): void {
    this.#res.write(HEARTBEAT);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    releaseHangup(this.#socket, this);
    open.delete(this);
    if (open.size === 0) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
    this.#room.leave(this.#client);
  }
}
