import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { admit } from '../admission.js';
import type { Admitted } from '../admission.js';
import { atExpiry } from '../auth.js';
import type { Grant, Rights } from '../auth.js';
import { noteRefusal } from '../context.js';
import type { Context } from '../context.js';
import { asHttpError, endSocket, HttpError, SHUTTING_DOWN, TOO_MANY_WAITING, UPGRADE_REQUIRED } from '../errors.js';
import { sharedQueue } from '../flusher.js';
import type { Flushing } from '../flusher.js';
import type { Beating } from '../heartbeat.js';
import type { Subscription, Waiter } from '../../hub.js';
import { checkName, fromOf } from '../identity.js';
import { checkMessageText, IDEMPOTENCY_KEY } from '../message-text.js';
import type { WaitingRoom } from '../waiting-room.js';
import * as metrics from '../../metrics.js';
import type { Outlet } from '../outbound.js';
import type { Batch, From, Message } from '../../protocol.js';
import { textFrames } from '../ws-frames.js';
import { checkChannel, splitPath, splitTarget } from '../target.js';
import { CHANNEL_NAME } from '../../protocol.js';
import { readChannelSet, wantsChannelSet } from './channel-set.js';
import type { AdmittedSet } from './channel-set.js';
import { parseChannelRequest, SocketChannels } from './websocket-channels.js';
import type { ChannelRequest } from './websocket-channels.js';

const NOT_FOUND = new HttpError('not_found', 'not found');

/** Close codes (RFC 6455 §7.4.1). */
const GOING_AWAY = 1001;
const POLICY = 1008;
const TRY_AGAIN_LATER = 1013;
/** pollcast's own (RFC 6455 §7.4.2, 4000–4999): the token that let the connection in expired; renew it and reconnect from the last id. */
export const TOKEN_EXPIRED_CLOSE = 4001;
/** How long a closing peer has to answer before its socket is cut. */
const CLOSE_WAIT_MS = 1_000;
/** A backlog goes out in pieces of about this many bytes (or the per-connection cap, when smaller). */
const PIECE = 64 * 1024;

/**
 * `GET /ws[/CHANNEL][?since=CURSOR]` upgraded to a WebSocket: the channel's
 * messages as JSON frames from the cursor on, and publishing in the other
 * direction. The `ws` library is loaded on the first upgrade only, so long
 * polling stays free of it. Returns the `'upgrade'` listener.
 */
export function createUpgrade(ctx: Context): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  let server: Promise<WebSocketServer> | undefined;

  /** The tokens are known good: take a place, and hand the socket to `ws`. */
  function accept(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    channel: string,
    query: URLSearchParams,
    admitted: Admitted,
    set: AdmittedSet | undefined,
  ): void {
    if (ctx.closing) throw SHUTTING_DOWN;
    // A client that left while its token was being verified: its socket will not close again to give a place back.
    if (socket.destroyed) return;
    const since = query.get('since') ?? undefined;
    const client = ctx.clientKey(req);
    if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
    const leave = holdPlace(ctx.room, client, socket);
    server ??= import('ws').then(
      ({ WebSocketServer }) => new WebSocketServer({ noServer: true, maxPayload: ctx.options.maxBodyBytes + FRAME_OVERHEAD }),
    );
    server.then(
      (wss) =>
        wss.handleUpgrade(req, socket, head, (ws) => new Connection(ws, socket, ctx, channel, client, leave, admitted, set).start(since)),
      (error: unknown) => endSocket(socket, error, ctx.log),
    );
  }

  return function upgrade(req, socket, head) {
    // Node's HTTP server stops listening for this socket's errors when it hands it over; a reset
    // before (or while) ws holds it must end this socket, not the process.
    socket.on('error', () => socket.destroy());
    try {
      if (ctx.closing) throw SHUTTING_DOWN;
      const { path, query } = splitTarget(req.url ?? '');
      const [name, channelPath] = splitPath(path);
      if (name !== 'ws') throw NOT_FOUND;
      const channel = checkChannel(channelPath);
      checkHandshake(req);
      // Several channels (`?channels=a,b`): each checked, and followed by SocketChannels; the first stands for the rest in admission.
      const set = wantsChannelSet(query) ? readChannelSet(req, ctx, query) : undefined;
      const admit1 = (chosen: AdmittedSet | undefined): Admitted | Promise<Admitted> =>
        admit(ctx, req, query, 'subscribe', chosen?.channels[0] ?? channel);
      const admitted = set instanceof Promise ? set.then(async (chosen) => [chosen, await admit1(chosen)] as const) : undefined;
      const go = (chosen: AdmittedSet | undefined, ready: Admitted): void =>
        accept(req, socket, head, chosen?.channels[0] ?? channel, query, ready, chosen);
      if (admitted) {
        admitted.then(([chosen, ready]) => go(chosen, ready)).catch((error: unknown) => endSocket(socket, error, ctx.log));
      } else {
        const chosen = set as AdmittedSet | undefined;
        const ready = admit1(chosen);
        if (ready instanceof Promise) ready.then((value) => go(chosen, value)).catch((error: unknown) => endSocket(socket, error, ctx.log));
        else go(chosen, ready);
      }
    } catch (error) {
      if (error instanceof HttpError) noteRefusal(ctx, req, error.code);
      endSocket(socket, error, ctx.log);
    }
  };
}

/** `GET /ws` as plain HTTP (a proxy that drops the upgrade headers): `426` says what is missing. */
export function upgradeRequired(): never {
  throw UPGRADE_REQUIRED;
}

/** Room in a frame for the JSON around a text of `--max-body` bytes: type, key, escapes. */
const FRAME_OVERHEAD = 1024;

const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Refuses, before any place is taken, every handshake that `ws` would
 * refuse (RFC 6455 §4.2.1), with an answer that says why.
 */
function checkHandshake(req: IncomingMessage): void {
  if (req.method !== 'GET')
    throw new HttpError('method_not_allowed', `method ${req.method} is not allowed here; use GET`, { allow: 'GET' });
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') throw UPGRADE_REQUIRED;
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') {
    throw new HttpError('upgrade_required', 'Sec-WebSocket-Version must be 13', { upgrade: 'websocket', 'sec-websocket-version': '13' });
  }
  if (!WEBSOCKET_KEY.test(req.headers['sec-websocket-key'] ?? ''))
    throw new HttpError('bad_request', 'Sec-WebSocket-Key must be 16 bytes in base64');
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols !== undefined) {
    const names = protocols.split(',').map((name) => name.trim());
    if (!names.every((name) => TOKEN.test(name)) || new Set(names).size !== names.length) {
      throw new HttpError('bad_request', 'Sec-WebSocket-Protocol must be a list of distinct tokens');
    }
  }
}

/**
 * Holds a waiting-room place for an upgrade. The place is given back once:
 * by the connection when it ends, or when the socket closes without one
 * (a handshake `ws` refused or one the client cut).
 */
function holdPlace(room: WaitingRoom, client: string, socket: Duplex): () => void {
  let held = true;
  metrics.held('websocket', 1);
  const leave = (): void => {
    if (!held) return;
    held = false;
    room.leave(client);
    metrics.held('websocket', -1);
  };
  socket.once('close', leave);
  return leave;
}

/** What a client may send: a message to publish (with a name, on a server that takes declared names), or a token whose rights the connection gains. */
type ClientFrame =
  | { readonly type: 'publish'; readonly text: string; readonly key?: string; readonly name?: string; readonly channel?: string }
  | { readonly type: 'auth'; readonly token: string }
  | ChannelRequest;

/**
 * A fan-out hands the same batch to every connection waiting on a channel:
 * its frames are made once and the same bytes go to every socket. Frames up
 * to this size are kept for as long as the batch is; larger ones are a
 * backlog, seldom shared, and sent in pieces instead.
 */
const SHARED_BYTES = 64 * 1024;
const encoded = new WeakMap<Batch, Buffer>();

/** The `message` frame of each message of a batch that reads the same for every connection (nothing missed, a message at least); undefined when too large to share. */
function sharedFrames(batch: Batch): Buffer | undefined {
  let bytes = encoded.get(batch);
  if (bytes) return bytes;
  bytes = textFrames(batch.messages.map(messageFrame));
  if (bytes.length > SHARED_BYTES) return undefined;
  encoded.set(batch, bytes);
  return bytes;
}

function messageFrame({ id, text, time, from }: Message): string {
  return JSON.stringify({ type: 'message', id, text, time, from });
}

/**
 * Every frame goes through the outbound budget. Messages are not sent as
 * they come: the connection queues the batches the hub hands it, waits
 * again at once from the last one's cursor, and sends everything queued in
 * one socket write when the server's write turn flushes it. A large queue
 * goes in pieces: the next waits until the socket took the last, and
 * meanwhile the connection does not wait for more messages, so a reader
 * that stops holds at most a piece. Frames the client provokes (errors,
 * acknowledgements) are not paced, but go after what was queued before
 * them: a client that sends and never reads is cut at the cap.
 */
class Connection implements Waiter, Outlet, Beating, Flushing {
  readonly #ws: WebSocket;
  /** The upgraded socket: `ws` sends through it with no queue of its own (no compression), so frames written here keep their order. */
  readonly #socket: Duplex;
  readonly #ctx: Context;
  readonly #channel: string;
  readonly #client: string;
  /** Gives the waiting-room place back; safe to call twice. */
  readonly #leave: () => void;
  /** The rights of the upgrade's tokens, then of each auth frame's. */
  readonly #rights: Rights[];
  /** The name declared on the upgrade (`?name=`), for publish frames that declare none. */
  readonly #declared: string | undefined;
  /** Takes the author off the channel's presence. */
  readonly #away: () => void;
  readonly #from: From | undefined;
  #expires: number;
  #unexpire: () => void = () => undefined;
  readonly #piece: number;
  /** The channels of a multi-channel connection, which then has no single subscription. */
  #channels: SocketChannels | undefined;
  readonly #set: AdmittedSet | undefined;
  #subscription: Subscription | undefined;
  readonly #since = Date.now();
  /** Batches handed over and not yet sent, oldest first; `#next` is how far the first one was sent. */
  #queue: Batch[] = [];
  #next = 0;
  /** `#after`: the cursor the first queued batch was read after (a `missed` frame's cursor); `#cursor`, after the last: where to wait from. */
  #after = '';
  #cursor = '';
  /** Frames of a multi-channel connection made and not yet sent, and their bytes. */
  #later: string[] = [];
  #laterBytes = 0;
  /** Waiting for the write turn. */
  #due = false;
  /** Waiting for the socket to take a piece before sending more; not waiting for messages meanwhile. */
  #paused = false;
  #alive = true;
  #ended = false;
  readonly #written = (error?: Error | null): void => {
    if (error || this.#ws.bufferedAmount > this.#piece / 2) return;
    this.#ctx.outbound.flushed(this);
    if (!this.#paused) return;
    this.#paused = false;
    this.#pump();
    this.#wait();
  };

  constructor(
    ws: WebSocket,
    socket: Duplex,
    ctx: Context,
    channel: string,
    client: string,
    leave: () => void,
    admitted: Admitted,
    set?: AdmittedSet,
  ) {
    this.#ws = ws;
    this.#socket = socket;
    this.#ctx = ctx;
    this.#channel = channel;
    this.#client = client;
    this.#leave = leave;
    this.#rights = [admitted.rights];
    this.#declared = admitted.from && !admitted.from.verified ? admitted.from.name : undefined;
    // A multi-channel connection is listed on each of its channels by SocketChannels, as they come and go.
    const from = admitted.from;
    this.#away = from && !set ? ctx.presence.hold(channel, from) : () => undefined;
    this.#from = from;
    // A set lasts as long as the earliest grant among its channels.
    this.#expires = set ? Math.min(set.expires, admitted.grant.expires) : admitted.grant.expires;
    this.#piece = Math.min(PIECE, ctx.options.streamBufferBytes);
    this.#set = set;
  }

  start(since: string | undefined): void {
    // ws has already sent the close code of the frame it refused (1002, 1007, 1009): a peer that
    // does not close in turn is cut, as on shutdown.
    this.#ws.on('error', () => setTimeout(() => this.#ws.terminate(), CLOSE_WAIT_MS).unref());
    this.#ws.on('close', () => this.#end());
    this.#ws.on('pong', () => (this.#alive = true));
    this.#ws.on('message', (data, isBinary) => void this.#received(data, isBinary));
    this.#ctx.heartbeat.add(this);
    this.#unexpire = atExpiry(this.#expires, () => this.#close(TOKEN_EXPIRED_CLOSE, 'token expired'));
    if (this.#set) return this.#startChannels(this.#set);
    try {
      this.#subscription = this.#ctx.hub.subscribe(this.#channel, since, this);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  /** The wait cannot be served: closed with the code its answer's status calls for. */
  fail(error: Error): void {
    const answer = asHttpError(error, this.#ctx.log);
    this.#close(closeCode(answer), answer.code === 'bad_cursor' ? `bad cursor: ${answer.message}` : answer.message);
  }

  deliver(batch: Batch): void {
    if (this.#ended) return;
    if (batch.missed) metrics.missed('websocket');
    metrics.wrote('websocket', batch, this.#since);
    // Where the wait started, not where the batch ends: resuming from it replays the gap's messages rather than skipping them.
    if (this.#queue.length === 0) this.#after = this.#subscription?.cursor ?? batch.cursor;
    this.#queue.push(batch);
    this.#cursor = batch.cursor;
    this.#flushLater();
  }

  /**
   * The write turn: everything queued, in one write when it fits in a piece;
   * then the connection waits again. What was published since the batch came
   * is one batch for it then, shared by every connection at the same place,
   * and goes in the next turn.
   */
  flush(): void {
    this.#due = false;
    this.#writeQueued();
    if (!this.#set) this.#wait();
  }

  /** Waits for what comes after the last batch handed over, unless the socket is full or the connection closing. */
  #wait(): void {
    if (!this.#paused && !this.#closed) this.#subscription = this.#ctx.hub.subscribe(this.#channel, this.#cursor, this);
  }

  get unsent(): number {
    return this.#ended ? 0 : this.#ws.bufferedAmount + this.#laterBytes;
  }

  /** Ended, or closing: nothing more is sent. */
  get #closed(): boolean {
    return this.#ended || this.#ws.readyState !== this.#ws.OPEN;
  }

  /** Over its cap or the write timeout, or the slowest when the outbound budget was needed: it reconnects from its last id. */
  cut(): void {
    this.#ws.terminate();
  }

  #flushLater(): void {
    if (this.#due) return;
    this.#due = true;
    this.#ctx.flusher.due(this);
  }

  /** Sends what is queued, in order: the batches (unless paused), then a multi-channel connection's frames. */
  #writeQueued(): void {
    if (!this.#paused) this.#pump();
    if (this.#later.length === 0 || this.#closed) return;
    const frames = textFrames(this.#later);
    this.#later = [];
    this.#laterBytes = 0;
    this.#write(frames);
  }

  /** Sends the queue while the socket keeps up, a piece at a time; when it does not, stops waiting for messages until it drains. */
  #pump(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const piece = this.#takePiece();
      if (!this.#ctx.outbound.admit(piece.length, this)) return this.cut();
      this.#write(piece);
      if (this.#ws.bufferedAmount >= this.#piece) {
        this.#paused = true;
        return;
      }
    }
  }

  #write(frames: Buffer): void {
    this.#socket.write(frames, this.#written);
    metrics.streamWrite('websocket');
    this.#ctx.outbound.handed(this);
  }

  /** The next piece of the queue, taken off it: the whole queue when its frames are shared and fit, else about a piece. */
  #takePiece(): Buffer {
    const queue = this.#queue;
    const whole = this.#next === 0 ? sharedQueue(queue, this.#piece, sharedFrames) : undefined;
    if (whole) {
      this.#after = queue[queue.length - 1]!.cursor;
      this.#queue = [];
      return whole;
    }
    const texts: string[] = [];
    let length = 0;
    while (queue.length > 0) {
      const batch = queue[0]!;
      const { messages } = batch;
      if (this.#next === 0) {
        if (batch.missed) texts.push(JSON.stringify({ type: 'missed', cursor: this.#after }));
        if (messages.length === 0) texts.push(JSON.stringify({ type: 'cursor', cursor: batch.cursor }));
      }
      while (this.#next < messages.length && length < this.#piece) {
        const text = messageFrame(messages[this.#next++]!);
        texts.push(text);
        length += text.length;
      }
      if (this.#next < messages.length) break;
      queue.shift();
      this.#next = 0;
      this.#after = batch.cursor;
    }
    return textFrames(texts);
  }

  /** Closes with `code`, after what was queued before. */
  #close(code: number, reason: string): void {
    if (!this.#closed) this.#writeQueued();
    this.#ws.close(code, reason);
  }

  release(): void {
    this.#close(GOING_AWAY, 'server shutting down');
    // A peer that never answers the close must not hold the shutdown up.
    setTimeout(() => this.#ws.terminate(), CLOSE_WAIT_MS).unref();
  }

  /** Called by the server's heartbeat: a peer that did not answer the last ping is gone. */
  beat(): void {
    if (!this.#alive) {
      this.#ws.terminate();
      return;
    }
    this.#alive = false;
    this.#ws.ping();
  }

  async #received(data: RawData, isBinary: boolean): Promise<void> {
    const frame = isBinary ? undefined : parseFrame(data.toString());
    if (!frame)
      return this.#send({
        type: 'error',
        code: 'bad_request',
        reason: 'send {"type": "publish", "text": "...", "key": "..."} or {"type": "auth", "token": "..."}',
      });
    if (frame.type === 'auth') return this.#authorize(frame.token);
    if (frame.type !== 'publish') {
      if (!this.#channels)
        return this.#send({
          type: 'error',
          code: 'bad_request',
          reason: 'subscribe and unsubscribe need a connection opened with ?channels=',
        });
      return this.#channels.handle(frame);
    }
    const key = frame.key;
    const channel = frame.channel ?? this.#channel;
    let from: From | undefined;
    try {
      const grant = this.#grant('publish', channel);
      from = fromOf(grant.identity, grant.identity ? undefined : frame.name === undefined ? this.#declared : checkName(frame.name));
    } catch (error) {
      return this.#sendError(error, key);
    }
    if (this.#ctx.publishRate.take(this.#client) > 0)
      return this.#send({ type: 'error', code: 'rate_limited', reason: 'too many messages', key });
    try {
      const text = checkMessageText(frame.text, this.#ctx.options.maxBodyBytes);
      const { message } = await this.#ctx.hub.publish(channel, text, key, from);
      this.#send({ type: 'published', id: message.id, time: message.time, key });
    } catch (error) {
      this.#sendError(error, key);
    }
  }

  /** An error frame with the stable code and reason an HTTP answer would carry. */
  #sendError(error: unknown, key?: string): void {
    const { code, message } = asHttpError(error, this.#ctx.log);
    this.#send({ type: 'error', code, reason: message, key });
  }

  /**
   * An auth frame adds the rights of its token: publishing when it grants
   * that on this channel, and a later expiry when it grants subscribing (a
   * token renewed without reconnecting). Tries count against the publish rate.
   */
  async #authorize(token: string): Promise<void> {
    if (this.#ctx.publishRate.take(this.#client) > 0) return this.#send({ type: 'error', code: 'rate_limited', reason: 'too many tries' });
    const rights = await this.#ctx.rights([token]);
    if (this.#ended) return;
    const publish = rights.may('publish', this.#channel);
    const subscribe = rights.may('subscribe', this.#channel);
    if (!publish && !subscribe) {
      try {
        rights.check('publish', this.#channel);
      } catch (error) {
        return this.#sendError(error);
      }
    }
    this.#rights.push(rights);
    if (subscribe) {
      const expires = rights.check('subscribe', this.#channel).expires;
      if (expires > this.#expires) {
        this.#expires = expires;
        this.#unexpire();
        this.#unexpire = atExpiry(expires, () => this.#close(TOKEN_EXPIRED_CLOSE, 'token expired'));
      }
    }
    this.#send({ type: 'authorized', publish, subscribe, ...(this.#expires !== Infinity && { expires: this.#expires }) });
  }

  /** The grant for `action` on `channel` (this connection's own by default) from any of the connection's tokens; throws the refusal of the first. */
  #grant(action: 'publish' | 'subscribe', channel = this.#channel): Grant {
    for (const rights of this.#rights) if (rights.may(action, channel)) return rights.check(action, channel);
    // Refused by every token: a valid token without the right (403) says more than a missing one.
    const refusals = this.#rights.map((rights) => {
      try {
        rights.check(action, channel);
      } catch (error) {
        return error as HttpError;
      }
      return undefined;
    });
    throw refusals.find((error) => error?.code === 'forbidden') ?? refusals.find((error) => error?.code === 'invalid_token') ?? refusals[0];
  }

  /**
   * Sends a frame counted against the outbound budget, after whatever was
   * queued before it; a connection already over its cap, or with no room
   * left in the total, is cut instead.
   */
  #send(frame: Record<string, unknown>): void {
    if (this.#closed) return;
    if (frame.type === 'error') {
      metrics.refused(String(frame.code));
      if (frame.code === 'rate_limited') this.#ctx.limits.hit('rate_limited', this.#client);
    }
    if (this.#due) this.#writeQueued();
    const data = JSON.stringify(frame);
    const { outbound } = this.#ctx;
    if (outbound.over(this) || !outbound.admit(data.length, this)) {
      this.cut();
      return;
    }
    this.#ws.send(data, this.#written);
    metrics.streamWrite('websocket');
    outbound.handed(this);
  }

  /** A multi-channel connection's frame about its channels' messages: sent with the others of this turn, in one write. */
  #sendLater(frame: Record<string, unknown>): void {
    if (this.#closed) return;
    const data = JSON.stringify(frame);
    const bytes = Buffer.byteLength(data);
    const { outbound } = this.#ctx;
    if (outbound.over(this) || !outbound.admit(bytes, this)) {
      this.cut();
      return;
    }
    this.#later.push(data);
    this.#laterBytes += bytes;
    outbound.handed(this);
    this.#flushLater();
  }

  /** A multi-channel connection: its channels are followed by SocketChannels, each read by the rights its tokens grant there. */
  #startChannels(set: AdmittedSet): void {
    this.#channels = new SocketChannels({
      hub: this.#ctx.hub,
      max: this.#ctx.options.maxChannelsPerConnection,
      send: (frame) => this.#send(frame),
      sendLater: (frame) => this.#sendLater(frame),
      overflowed: () => this.#ctx.outbound.over(this) && (this.cut(), true),
      mayRead: (channel) => this.#rights.some((rights) => rights.may('subscribe', channel)),
      here: (channel) => (this.#from ? this.#ctx.presence.hold(channel, this.#from) : () => undefined),
      released: () => this.release(),
    });
    this.#channels.start(set);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#queue = [];
    this.#later = [];
    this.#laterBytes = 0;
    this.#subscription?.cancel();
    this.#channels?.close();
    this.#away();
    this.#unexpire();
    this.#ctx.heartbeat.delete(this);
    this.#leave();
  }
}

function parseFrame(raw: string): ClientFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { type, text, key, token, name, channel } = value as Record<string, unknown>;
  if (type === 'subscribe' || type === 'unsubscribe') return parseChannelRequest(type, value as Record<string, unknown>);
  if (channel !== undefined && (typeof channel !== 'string' || !CHANNEL_NAME.test(channel))) return undefined;
  if (type === 'auth') return typeof token === 'string' && token !== '' ? { type, token } : undefined;
  if (type !== 'publish' || typeof text !== 'string') return undefined;
  if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) return undefined;
  if (name !== undefined && typeof name !== 'string') return undefined;
  return {
    type,
    text,
    ...(key !== undefined && { key }),
    ...(name !== undefined && { name }),
    ...(channel !== undefined && { channel: channel as string }),
  };
}

/**
 * The close code for an answer (RFC 6455 §7.4.1): the client's fault is a
 * policy violation (1008), a shutdown is going away (1001), the rest pass
 * (1013: try again later).
 */
function closeCode(answer: HttpError): number {
  if (answer.status < 500) return POLICY;
  return answer.code === 'shutting_down' ? GOING_AWAY : TRY_AGAIN_LATER;
}
