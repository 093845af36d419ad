import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { admit } from '../admission.js';
import type { Admitted } from '../admission.js';
import { atExpiry, withRights } from '../auth.js';
import type { Context } from '../context.js';
import { SHUTTING_DOWN, TOKEN_EXPIRED, TOO_MANY_WAITING, fromHubError, sendError } from '../errors.js';
import { releaseHangup, watchHangup } from '../hangups.js';
import type { Held } from '../hangups.js';
import { sharedQueue } from '../flusher.js';
import type { Flusher, Flushing } from '../flusher.js';
import type { Beating, Heartbeat } from '../heartbeat.js';
import type { Hub, Subscription, Waiter } from '../../hub.js';
import * as metrics from '../../metrics.js';
import type { Outbound, Outlet } from '../outbound.js';
import type { Batch } from '../../protocol.js';
import { batchFrames, EXPIRED_FRAME, HEARTBEAT, openingFrame } from '../sse.js';
import type { WaitingRoom } from '../waiting-room.js';
import { wantsChannelSet } from './channel-set.js';
import { eventsChannels } from './events-channels.js';

/** How long a client waits before reconnecting (the `retry:` hint), in ms. */
const RETRY_MS = 2_000;

/** A backlog is written in pieces of about this many characters (or the per-connection cap, when smaller). */
const PIECE = 64 * 1024;

const NOTHING = (): void => undefined;

const HEADERS = {
  'content-type': 'text/event-stream;charset=utf-8',
  'cache-control': 'no-store',
  // nginx and others buffer responses unless told not to.
  'x-accel-buffering': 'no',
};

/**
 * `GET /events[/CHANNEL]`: the channel as server-sent events, from the
 * `Last-Event-ID` header (a reconnecting `EventSource`), else `?since=`,
 * else from now. One stream holds one place in the waiting room. When the
 * token that let it in expires, an `expired` event ends it.
 */
export function events(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Context,
  channel: string,
  query: URLSearchParams,
): void | Promise<void> {
  if (wantsChannelSet(query)) return eventsChannels(req, res, ctx, query);
  return withRights(admit(ctx, req, query, 'subscribe', channel), (admitted) => open(req, res, ctx, channel, query, admitted));
}

function open(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams, admitted: Admitted): void {
  // A client that left while its token was being verified: its socket will not close again to end a stream.
  if (req.socket.destroyed) return;
  const client = ctx.clientKey(req);
  if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
  metrics.held('sse', 1);
  const lastEventId = req.headers['last-event-id'];
  const since = (typeof lastEventId === 'string' && lastEventId) || query.get('since') || undefined;
  const stream = new EventStream(req.socket, res, ctx, channel, client, admitted);
  try {
    stream.start(since);
  } catch (error) {
    stream.abandon();
    throw error;
  }
}

/**
 * A fan-out hands the same batch to every stream waiting on a channel:
 * its events are encoded once and the same bytes go to every socket.
 * Encodings up to this size are kept for as long as the batch is; larger
 * ones are a backlog, seldom shared, and written in pieces instead.
 */
const SHARED_BYTES = 64 * 1024;
const encoded = new WeakMap<Batch, Buffer>();

/** The events of a batch that reads the same for every stream (nothing missed, a message at least), encoded once; undefined when too large to share. */
function sharedFrames(batch: Batch): Buffer | undefined {
  let bytes = encoded.get(batch);
  if (bytes) return bytes;
  // A batch with nothing missed and a message writes no cursor of its own: its events are the same after any cursor.
  bytes = Buffer.from(batchFrames(batch, '').frames);
  if (bytes.length > SHARED_BYTES) return undefined;
  encoded.set(batch, bytes);
  return bytes;
}

/**
 * A stream does not write as messages come: it queues the batches the hub
 * hands it, waits again at once from the last one's cursor, and writes
 * everything queued in one go when the server's write turn flushes it, so
 * a burst costs one write. A large queue goes in pieces: the next piece
 * waits until the socket took the last (`'drain'`), and meanwhile the
 * stream does not wait for more messages, so a backlog flows as fast as the
 * reader reads, while a reader that stops holds at most a piece: it is cut
 * when that piece is not taken within the write timeout.
 */
class EventStream implements Waiter, Held, Outlet, Beating, Flushing {
  readonly #socket: Socket;
  readonly #res: ServerResponse;
  readonly #hub: Hub;
  readonly #room: WaitingRoom;
  readonly #outbound: Outbound;
  readonly #flusher: Flusher;
  readonly #channel: string;
  readonly #client: string;
  readonly #piece: number;
  readonly #heartbeat: Heartbeat;
  /** Takes the author off the channel's presence; cancels the expiry. */
  readonly #leave: () => void;
  readonly #unexpire: () => void;
  #subscription: Subscription | undefined;
  readonly #since = Date.now();
  /** Batches handed over and not yet written, oldest first; `#next` is how far the first one was written. */
  #queue: Batch[] = [];
  #next = 0;
  /** The cursor the first queued batch was read after: where the reader stands once it has read what was written. */
  #from = '';
  /** The cursor after the last queued batch: where the stream waits from. */
  #cursor = '';
  /** Waiting for the write turn. */
  #due = false;
  /** Waiting for the socket to take a piece; the stream does not wait for messages meanwhile. */
  #blocked = false;
  #opened = false;
  #ended = false;
  /** Made when the socket first stops taking pieces: most streams never need it. */
  #drained: (() => void) | undefined;

  constructor(socket: Socket, res: ServerResponse, ctx: Context, channel: string, client: string, admitted: Admitted) {
    this.#socket = socket;
    this.#res = res;
    this.#hub = ctx.hub;
    this.#room = ctx.room;
    this.#outbound = ctx.outbound;
    this.#flusher = ctx.flusher;
    this.#channel = channel;
    this.#client = client;
    this.#piece = Math.min(PIECE, ctx.options.streamBufferBytes);
    this.#heartbeat = ctx.heartbeat;
    this.#leave = admitted.from ? ctx.presence.hold(channel, admitted.from) : NOTHING;
    // Nothing is made per stream for a grant that never expires: thousands are held at once.
    this.#unexpire = admitted.grant.expires === Infinity ? NOTHING : atExpiry(admitted.grant.expires, () => this.expired());
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
    this.#from = this.#cursor = this.#subscription!.cursor!;
    this.#res.writeHead(200, HEADERS);
    this.#res.write(openingFrame(RETRY_MS, this.#from));
    metrics.streamWrite('sse');
    this.#heartbeat.add(this);
  }

  deliver(batch: Batch): void {
    if (this.#ended) return;
    this.started();
    if (batch.missed) metrics.missed('sse');
    metrics.wrote('sse', batch, this.#since);
    this.#queue.push(batch);
    this.#cursor = batch.cursor;
    if (this.#due) return;
    this.#due = true;
    this.#flusher.due(this);
  }

  /**
   * The write turn: everything queued, in one write when it fits in a piece;
   * then the stream waits again. What was published since the batch came is
   * one batch for it then, shared by every stream at the same place (not
   * one hand-over per message and stream), and goes in the next turn.
   */
  flush(): void {
    this.#due = false;
    if (this.#blocked) return;
    this.#pump();
    this.#wait();
  }

  get unsent(): number {
    return this.#res.destroyed ? 0 : this.#res.writableLength;
  }

  /** Over the write timeout, or the slowest when the outbound budget was needed: the reader resumes from its Last-Event-ID. */
  cut(): void {
    this.#end();
    this.#res.destroy();
  }

  /** Writes the queue piece by piece while the socket takes them; when it does not, stops waiting for messages until it drains. */
  #pump(): void {
    while (this.#queue.length > 0 && !this.#ended) {
      const piece = this.#takePiece();
      if (!this.#outbound.admit(piece.length, this)) return this.cut();
      const room = this.#res.write(piece);
      metrics.streamWrite('sse');
      this.#outbound.handed(this);
      if (!room) {
        this.#blocked = true;
        this.#drained ??= () => this.#resume();
        this.#res.once('drain', this.#drained);
        return;
      }
    }
  }

  /** The socket took the last piece: on with the queue, then wait for messages again. */
  #resume(): void {
    this.#outbound.flushed(this);
    this.#blocked = false;
    this.#pump();
    this.#wait();
  }

  /** Waits for what comes after the last batch handed over, unless the socket is full or the stream over. */
  #wait(): void {
    if (!this.#blocked && !this.#ended) this.#subscription = this.#hub.subscribe(this.#channel, this.#cursor, this);
  }

  /** The next piece of the queue, taken off it: the whole queue when its events are shared and fit, else about a piece. */
  #takePiece(): Buffer | string {
    const queue = this.#queue;
    const whole = this.#next === 0 ? sharedQueue(queue, this.#piece, sharedFrames) : undefined;
    if (whole) {
      this.#from = queue[queue.length - 1]!.cursor;
      this.#queue = [];
      return whole;
    }
    let piece = '';
    while (queue.length > 0) {
      const batch = queue[0]!;
      const { frames, next } = batchFrames(batch, this.#from, this.#next, this.#piece - piece.length);
      if (piece !== '' && piece.length + frames.length > this.#piece) break;
      piece += frames;
      this.#next = next;
      if (next < batch.messages.length) break;
      queue.shift();
      this.#next = 0;
      this.#from = batch.cursor;
    }
    return piece;
  }

  /** The hub is closing: end the stream; the client reconnects to whoever serves next. */
  release(): void {
    const opened = this.#opened;
    // What was handed over before the close goes out first.
    if (!this.#blocked) this.#pump();
    if (this.#ended) return;
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

  /** The token expired: say so (the client renews it and resumes), then end. */
  expired(): void {
    const opened = this.#opened;
    if (!this.#blocked) this.#pump();
    if (this.#ended) return;
    this.#end();
    this.#subscription?.cancel();
    if (!opened) return sendError(this.#res, TOKEN_EXPIRED);
    this.#res.end(EXPIRED_FRAME);
    this.#socket.end();
  }

  abandon(): void {
    this.#end();
    this.#subscription?.cancel();
  }

  beat(): void {
    // Bytes still waiting to go keep a proxy's idle timer at bay already.
    if (this.#res.writableLength === 0) this.#res.write(HEARTBEAT);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#queue = [];
    releaseHangup(this.#socket, this);
    this.#leave();
    this.#unexpire();
    this.#heartbeat.delete(this);
    this.#room.leave(this.#client);
    metrics.held('sse', -1);
  }
}
