import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { decodePositions, encodePositions } from '../channel-set.js';
import { ChannelLoop } from '../channel-loop.js';
import type { LoopSink } from '../channel-loop.js';
import { clientKey } from '../client-address.js';
import type { Context } from '../context.js';
import { HttpError, SHUTTING_DOWN, TOO_MANY_WAITING, fromHubError, sendError } from '../errors.js';
import { releaseHangup, watchHangup } from '../hangups.js';
import type { Held } from '../hangups.js';
import type { Batch } from '../protocol.js';
import { HEARTBEAT } from '../sse.js';
import type { WaitingRoom } from '../waiting-room.js';
import { readChannelSet } from './channel-set.js';

const RETRY_MS = 2_000;
const HEADERS = { 'content-type': 'text/event-stream;charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };
const BAD_EVENT_ID = new HttpError('bad_cursor', 'Last-Event-ID does not hold a position for each channel of channels=');

/**
 * `GET /events?channels=a,b&since=a:CURSOR`: several channels on one event
 * stream. Each event's `id:` holds the position of every channel
 * (`encodePositions`), so a reconnect with `Last-Event-ID` (to the same
 * `channels=`) resumes them all; it wins over `since=`. A message is
 * `data: {"channel", "id", "text", "time"}` (one line of JSON), a gap an
 * `event: missed` with `data: {"channel", "cursor"}`.
 */
export function eventsChannels(req: IncomingMessage, res: ServerResponse, ctx: Context, query: URLSearchParams): void {
  const set = readChannelSet(req, ctx, query);
  let since = set.since;
  const lastEventId = req.headers['last-event-id'];
  if (typeof lastEventId === 'string' && lastEventId !== '') {
    const cursors = decodePositions(lastEventId, set.channels.length);
    if (!cursors) throw BAD_EVENT_ID;
    since = new Map(set.channels.map((channel, i) => [channel, cursors[i]!]));
  }
  const client = clientKey(req);
  if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
  const stream = new ChannelsStream(req.socket, res, ctx, client);
  try {
    stream.start(ctx, set.channels, since);
  } catch (error) {
    stream.abandon();
    throw error;
  }
}

/** Every open multi-channel stream, for the heartbeat they share. */
const open = new Set<ChannelsStream>();
let heartbeat: NodeJS.Timeout | undefined;

function beat(): void {
  for (const stream of open) stream.beat();
}

class ChannelsStream implements LoopSink, Held {
  readonly #socket: Socket;
  readonly #res: ServerResponse;
  readonly #room: WaitingRoom;
  readonly #client: string;
  readonly #maxBuffered: number;
  readonly #heartbeatMs: number;
  #loops: ChannelLoop[] = [];
  /** Each channel's position as the client will have it once it has read what was written. */
  #positions: string[] = [];
  #startedCount = 0;
  /** Batches that came before every channel had started, written once the stream opens. */
  #early: [ChannelLoop, Batch][] = [];
  #opened = false;
  #ended = false;

  constructor(socket: Socket, res: ServerResponse, ctx: Context, client: string) {
    this.#socket = socket;
    this.#res = res;
    this.#room = ctx.room;
    this.#client = client;
    this.#maxBuffered = ctx.options.streamBufferBytes;
    this.#heartbeatMs = ctx.options.heartbeatMs;
  }

  start(ctx: Context, channels: readonly string[], since: ReadonlyMap<string, string>): void {
    // Every loop exists before any starts: started() counts them.
    this.#loops = channels.map((channel) => new ChannelLoop(ctx.hub, channel, this));
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
    open.add(this);
    heartbeat ??= setInterval(beat, this.#heartbeatMs).unref();
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
    this.#res.write(this.#frames(this.#loops.indexOf(loop), loop.channel, batch));
    // A reader this far behind is cut: it resumes from its Last-Event-ID.
    if (this.#res.writableLength > this.#maxBuffered) {
      this.abandon();
      this.#res.destroy();
      return false;
    }
    return true;
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
    this.abandon();
    if (!opened) return sendError(this.#res, SHUTTING_DOWN);
    this.#res.end();
    this.#socket.end();
  }

  abandon(): void {
    for (const loop of this.#loops) loop.stop();
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
    for (const { id, text, time } of batch.messages) {
      this.#positions[index] = id;
      frames += `id: ${field(encodePositions(this.#positions))}\ndata: {"channel":${name},"id":${JSON.stringify(id)},"text":${JSON.stringify(text)},"time":${time}}\n\n`;
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
