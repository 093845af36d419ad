import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { decodePositions, encodePositions } from '../../channel-set.js';
import { ChannelLoop } from '../channel-loop.js';
import type { LoopSink } from '../channel-loop.js';
import { atExpiry, withRights } from '../auth.js';
import type { Context } from '../context.js';
import { HttpError, SHUTTING_DOWN, TOKEN_EXPIRED, TOO_MANY_WAITING, fromHubError, sendError } from '../errors.js';
import { releaseHangup, watchHangup } from '../hangups.js';
import type { Held } from '../hangups.js';
import type { Batch } from '../../protocol.js';
import { EXPIRED_FRAME, HEARTBEAT } from '../sse.js';
import type { WaitingRoom } from '../waiting-room.js';
import { readChannelSet } from './channel-set.js';
import type { Flusher, Flushing } from '../flusher.js';
import type { AdmittedSet } from './channel-set.js';
import type { Beating, Heartbeat } from '../heartbeat.js';
import * as metrics from '../../metrics.js';
import type { Outbound, Outlet } from '../outbound.js';
import { encodeFrom } from '../../protocol.js';

const RETRY_MS = 2_000;
const HEADERS = { 'content-type': 'text/event-stream;charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };
const BAD_EVENT_ID = new HttpError('bad_cursor', 'Last-Event-ID does not hold a position for each channel of channels=');

/**
 * `GET /events?channels=a,b&since=a:CURSOR`: several channels on one event
 * stream. Each event's `id:` holds the position of every channel
 * (`encodePositions`), so a reconnect with `Last-Event-ID` (to the same
 * `channels=`) resumes them all; it wins over `since=`. A message is
 * `data: {"channel", "id", "text", "time", "from"}` (one line of JSON), a gap an
 * `event: missed` with `data: {"channel", "cursor"}`. The subscriber is in
 * the presence of every channel while the stream is open; when the earliest
 * of the tokens' grants expires, an `expired` event ends it, as on one channel.
 */
export function eventsChannels(req: IncomingMessage, res: ServerResponse, ctx: Context, query: URLSearchParams): void | Promise<void> {
  return withRights(readChannelSet(req, ctx, query), (set) => open(req, res, ctx, set));
}

function open(req: IncomingMessage, res: ServerResponse, ctx: Context, set: AdmittedSet): void {
  // A client that left while its token was being verified: its socket will not close again to end a stream.
  if (req.socket.destroyed) return;
  let since = set.since;
  const lastEventId = req.headers['last-event-id'];
  if (typeof lastEventId === 'string' && lastEventId !== '') {
    const cursors = decodePositions(lastEventId, set.channels.length);
    if (!cursors) throw BAD_EVENT_ID;
    since = new Map(set.channels.map((channel, i) => [channel, cursors[i]!]));
  }
  const client = ctx.clientKey(req);
  if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
  const stream = new ChannelsStream(req.socket, res, ctx, client);
  try {
    stream.start(ctx, set, since);
  } catch (error) {
    stream.abandon();
    throw error;
  }
}

/**
 * Several channels on one stream. Each event's id holds every channel's
 * position, so the events are this stream's own; they are made as batches
 * come and written in one go when the server's write turn flushes the
 * stream. What is made and not yet written counts as unsent.
 */
class ChannelsStream implements LoopSink, Held, Outlet, Beating, Flushing {
  readonly #socket: Socket;
  readonly #res: ServerResponse;
  readonly #room: WaitingRoom;
  readonly #client: string;
  readonly #outbound: Outbound;
  readonly #heartbeat: Heartbeat;
  readonly #flusher: Flusher;
  /** Events made and not yet written, and their bytes; written by the next flush. */
  #pending = '';
  #pendingBytes = 0;
  readonly #drained = (): void => this.#outbound.flushed(this);
  #loops: ChannelLoop[] = [];
  /** Each channel's position as the client will have it once it has read what was written. */
  #positions: string[] = [];
  #startedCount = 0;
  /** Batches that came before every channel had started, written once the stream opens. */
  #early: [ChannelLoop, Batch][] = [];
  #opened = false;
  #ended = false;
  /** Takes the subscriber off each channel's presence; cancels the expiry. */
  #leave: (() => void)[] = [];
  #unexpire: () => void = () => undefined;

  constructor(socket: Socket, res: ServerResponse, ctx: Context, client: string) {
    this.#socket = socket;
    this.#res = res;
    this.#room = ctx.room;
    this.#client = client;
    this.#outbound = ctx.outbound;
    this.#heartbeat = ctx.heartbeat;
    this.#flusher = ctx.flusher;
  }

  start(ctx: Context, set: AdmittedSet, since: ReadonlyMap<string, string>): void {
    // Every loop exists before any starts: started() counts them.
    this.#loops = set.channels.map((channel) => new ChannelLoop(ctx.hub, channel, this));
    const { from } = set;
    if (from) this.#leave = set.channels.map((channel) => ctx.presence.hold(channel, from));
    this.#unexpire = atExpiry(set.expires, () => this.expired());
    watchHangup(this.#socket, this);
    for (const loop of this.#loops) loop.start(since.get(loop.channel));
  }

  /** The stream opens once every channel's starting point is known, with an id that holds them all. */
  started(loop: ChannelLoop): void {
    if (this.#ended) return;
    this.#positions[this.#loops.indexOf(loop)] = loop.cursor!;
    if (++this.#startedCount < this.#loops.length) return;
    this.#opened = true;
    this.#res.writeHead(200, HEADERS);
    this.#res.write(`retry: ${RETRY_MS}\nid: ${field(encodePositions(this.#positions))}\n\n`);
    metrics.streamWrite('sse');
    this.#heartbeat.add(this);
    const early = this.#early;
    this.#early = [];
    for (const [earlyLoop, batch] of early) if (!this.batch(earlyLoop, batch)) return;
  }

  batch(loop: ChannelLoop, batch: Batch): boolean {
    if (this.#ended) return false;
    if (!this.#opened) {
      // A hub that asks its storage first may answer one channel before it knows where another starts.
      this.#early.push([loop, batch]);
      return true;
    }
    const frames = this.#frames(this.#loops.indexOf(loop), loop.channel, batch);
    const bytes = Buffer.byteLength(frames);
    // What the reader has not taken counts against the outbound budget: a reader over its share, or
    // when the total is spent, is cut and resumes from its Last-Event-ID.
    if (this.#outbound.over(this) || !this.#outbound.admit(bytes, this)) {
      this.cut();
      return false;
    }
    if (this.#pending === '') this.#flusher.due(this);
    this.#pending += frames;
    this.#pendingBytes += bytes;
    this.#outbound.handed(this);
    return true;
  }

  /** The write turn: every event made since the last, in one write. */
  flush(): void {
    if (this.#ended || this.#pending === '') return;
    const frames = this.#pending;
    this.#pending = '';
    this.#pendingBytes = 0;
    if (!this.#res.write(frames)) this.#res.once('drain', this.#drained);
    metrics.streamWrite('sse');
    this.#outbound.handed(this);
  }

  failed(_loop: ChannelLoop, error: Error): void {
    const opened = this.#opened;
    this.abandon();
    if (opened) this.#res.destroy();
    else sendError(this.#res, fromHubError(error));
  }

  released(): void {
    if (this.#ended) return;
    const opened = this.#opened;
    // What was made before the close goes out first.
    if (opened) this.flush();
    this.abandon();
    if (!opened) return sendError(this.#res, SHUTTING_DOWN);
    this.#res.end();
    this.#socket.end();
  }

  /** The token expired: say so (the client renews it and resumes from the id it holds), then end. */
  expired(): void {
    if (this.#ended) return;
    const opened = this.#opened;
    this.abandon();
    if (!opened) return sendError(this.#res, TOKEN_EXPIRED);
    this.#res.end(EXPIRED_FRAME);
    this.#socket.end();
  }

  abandon(): void {
    for (const loop of this.#loops) loop.stop();
    if (this.#ended) return;
    this.#ended = true;
    this.#pending = '';
    this.#pendingBytes = 0;
    for (const leave of this.#leave) leave();
    this.#unexpire();
    releaseHangup(this.#socket, this);
    this.#heartbeat.delete(this);
    this.#room.leave(this.#client);
  }

  get unsent(): number {
    return this.#res.destroyed ? 0 : this.#res.writableLength + this.#pendingBytes;
  }

  /** Over the write timeout, or the slowest when the outbound budget was needed: the reader resumes from its Last-Event-ID. */
  cut(): void {
    this.abandon();
    this.#res.destroy();
  }

  beat(): void {
    this.#res.write(HEARTBEAT);
  }

  /**
   * A batch's events, as `batchFrames` writes one channel's: `missed` (no
   * id: a cut right after it resumes before the gap again), then each
   * message with the positions after it, or a bare id when the position
   * moved with no message.
   */
  #frames(index: number, channel: string, batch: Batch): string {
    const name = JSON.stringify(channel);
    let frames = batch.missed ? `event: missed\ndata: {"channel":${name},"cursor":${JSON.stringify(batch.cursor)}}\n\n` : '';
    for (const { id, text, time, from } of batch.messages) {
      this.#positions[index] = id;
      frames += `id: ${field(encodePositions(this.#positions))}\ndata: {"channel":${name},"id":${JSON.stringify(id)},"text":${JSON.stringify(text)},"time":${time}${from ? `,"from":${encodeFrom(from)}` : ''}}\n\n`;
    }
    if (batch.messages.length === 0) {
      this.#positions[index] = batch.cursor;
      frames += `id: ${field(encodePositions(this.#positions))}\n\n`;
    }
    return frames;
  }
}

/** Cursors are plain, but a field must never smuggle a line end or a NUL. */
function field(value: string): string {
  return value.replace(/[\r\n\0]/g, '');
}
