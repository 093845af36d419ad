import { STATUS_CODES } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { presentedTokens } from '../auth.js';
import { clientKey } from '../client-address.js';
import type { Context } from '../context.js';
import { HttpError, SHUTTING_DOWN, TOO_MANY_WAITING, UPGRADE_REQUIRED } from '../errors.js';
import { HubClosedError, HubFullError, InvalidCursorError, KeyReusedError, StorageUnavailableError } from '../hub.js';
import type { Subscription, Waiter } from '../hub.js';
import { checkMessageText } from '../message-text.js';
import type { WaitingRoom } from '../waiting-room.js';
import type { Batch } from '../protocol.js';
import { checkChannel, splitPath, splitTarget } from '../target.js';
import { IDEMPOTENCY_KEY } from './publish.js';
import type { ChannelSet } from '../channel-set.js';
import { readChannelSet, wantsChannelSet } from './channel-set.js';
import { parseChannelRequest, SocketChannels } from './websocket-channels.js';
import type { ChannelRequest } from './websocket-channels.js';
import { CHANNEL_NAME } from '../protocol.js';

const NOT_FOUND = new HttpError('not_found', 'not found');

/** Close codes (RFC 6455 §7.4.1). */
const GOING_AWAY = 1001;
const POLICY = 1008;
const TRY_AGAIN_LATER = 1013;
/** How long a closing peer has to answer before its socket is cut. */
const CLOSE_WAIT_MS = 1_000;

/**
 * `GET /ws[/CHANNEL][?since=CURSOR]` upgraded to a WebSocket: the channel's
 * messages as JSON frames from the cursor on, and publishing in the other
 * direction. The `ws` library is loaded on the first upgrade only, so long
 * polling stays free of it. Returns the `'upgrade'` listener.
 */
export function createUpgrade(ctx: Context): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  let server: Promise<WebSocketServer> | undefined;
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
      // Several channels (`?channels=a,b`): each checked, and followed by SocketChannels.
      const set = wantsChannelSet(query) ? readChannelSet(req, ctx, query) : undefined;
      ctx.requireSubscribeToken(req, query);
      const tokens = presentedTokens(req, query);
      const canPublish = ctx.rights(tokens).publish;
      const since = query.get('since') ?? undefined;
      const client = clientKey(req);
      if (!ctx.room.enter(client)) throw TOO_MANY_WAITING;
      const leave = holdPlace(ctx.room, client, socket);
      server ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, maxPayload: ctx.options.maxBodyBytes + FRAME_OVERHEAD }));
      server.then(
        (wss) => wss.handleUpgrade(req, socket, head, (ws) => new Connection(ws, ctx, channel, client, leave, canPublish, set && { set, tokens }).start(since)),
        (error: unknown) => refuse(socket, error),
      );
    } catch (error) {
      refuse(socket, error);
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
  if (req.method !== 'GET') throw new HttpError('method_not_allowed', `method ${req.method} is not allowed here; use GET`, { allow: 'GET' });
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') throw UPGRADE_REQUIRED;
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') {
    throw new HttpError('upgrade_required', 'Sec-WebSocket-Version must be 13', { upgrade: 'websocket', 'sec-websocket-version': '13' });
  }
  if (!WEBSOCKET_KEY.test(req.headers['sec-websocket-key'] ?? '')) throw new HttpError('bad_request', 'Sec-WebSocket-Key must be 16 bytes in base64');
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
  const leave = (): void => {
    if (!held) return;
    held = false;
    room.leave(client);
  };
  socket.once('close', leave);
  return leave;
}

/** Answers an upgrade that cannot be: a plain HTTP error on the raw socket. */
function refuse(socket: Duplex, error: unknown): void {
  const answer = error instanceof HttpError ? error : new HttpError('internal', 'internal server error');
  const body = `${answer.message}\n`;
  const headers = Object.entries({ ...answer.headers, 'content-type': 'text/plain;charset=utf-8', 'content-length': Buffer.byteLength(body), 'pollcast-error': answer.code, connection: 'close' })
    .map(([name, value]) => `${name}: ${String(value)}\r\n`).join('');
  socket.end(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n${headers}\r\n${body}`);
}

/** Every open connection in this process, for the one ping timer they share. */
const open = new Set<Connection>();
let pinger: NodeJS.Timeout | undefined;

function pingAll(): void {
  for (const connection of open) connection.ping();
}

/** What a client may send: a message to publish, or a token whose rights the connection gains. */
type ClientFrame =
  | { readonly type: 'publish'; readonly text: string; readonly key?: string; readonly channel?: string }
  | { readonly type: 'auth'; readonly token: string }
  | ChannelRequest;

class Connection implements Waiter {
  readonly #ws: WebSocket;
  readonly #ctx: Context;
  readonly #channel: string;
  readonly #client: string;
  /** Gives the waiting-room place back; safe to call twice. */
  readonly #leave: () => void;
  #canPublish: boolean;
  #subscription: Subscription | undefined;
  /** The channels of a multi-channel connection, which then has no single subscription. */
  #channels: SocketChannels | undefined;
  readonly #multi: { readonly set: ChannelSet; readonly tokens: readonly string[] } | undefined;
  #alive = true;
  #ended = false;

  constructor(ws: WebSocket, ctx: Context, channel: string, client: string, leave: () => void, canPublish: boolean, multi?: { set: ChannelSet; tokens: readonly string[] }) {
    this.#ws = ws;
    this.#ctx = ctx;
    this.#channel = channel;
    this.#client = client;
    this.#leave = leave;
    this.#canPublish = canPublish;
    this.#multi = multi;
  }

  start(since: string | undefined): void {
    // ws has already sent the close code of the frame it refused (1002, 1007, 1009): a peer that
    // does not close in turn is cut, as on shutdown.
    this.#ws.on('error', () => setTimeout(() => this.#ws.terminate(), CLOSE_WAIT_MS).unref());
    this.#ws.on('close', () => this.#end());
    this.#ws.on('pong', () => (this.#alive = true));
    this.#ws.on('message', (data, isBinary) => void this.#received(data, isBinary));
    open.add(this);
    pinger ??= setInterval(pingAll, this.#ctx.options.heartbeatMs).unref();
    if (this.#multi) return this.#startChannels(this.#multi.set, this.#multi.tokens);
    try {
      this.#subscription = this.#ctx.hub.subscribe(this.#channel, since, this);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  /** The wait cannot be served: a bad cursor is the client's fault (1008); the rest pass (1013). */
  fail(error: Error): void {
    if (error instanceof InvalidCursorError) this.#ws.close(POLICY, `bad cursor: ${error.message}`);
    else if (error instanceof StorageUnavailableError) this.#ws.close(TRY_AGAIN_LATER, 'message storage is unavailable');
    else this.#ws.close(TRY_AGAIN_LATER, 'too many channels are in use');
  }

  deliver(batch: Batch): void {
    if (this.#ended) return;
    if (batch.missed) this.#send({ type: 'missed', cursor: batch.cursor });
    for (const { id, text, time } of batch.messages) this.#send({ type: 'message', id, text, time });
    if (batch.messages.length === 0) this.#send({ type: 'cursor', cursor: batch.cursor });
    // A reader this far behind is dropped: it reconnects from its last id instead of costing the server memory.
    if (this.#ws.bufferedAmount > this.#ctx.options.streamBufferBytes) {
      this.#ws.terminate();
      return;
    }
    this.#subscription = this.#ctx.hub.subscribe(this.#channel, batch.cursor, this);
  }

  release(): void {
    this.#ws.close(GOING_AWAY, 'server shutting down');
    // A peer that never answers the close must not hold the shutdown up.
    setTimeout(() => this.#ws.terminate(), CLOSE_WAIT_MS).unref();
  }

  /** Called by the shared timer: a peer that did not answer the last ping is gone. */
  ping(): void {
    if (!this.#alive) {
      this.#ws.terminate();
      return;
    }
    this.#alive = false;
    this.#ws.ping();
  }

  async #received(data: RawData, isBinary: boolean): Promise<void> {
    const frame = isBinary ? undefined : parseFrame(data.toString());
    if (!frame) return this.#send({ type: 'error', code: 'bad_request', reason: 'send {"type": "publish", "text": "...", "key": "..."} or {"type": "auth", "token": "..."}' });
    if (frame.type === 'auth') return this.#authorize(frame.token);
    if (frame.type !== 'publish') {
      if (!this.#channels) return this.#send({ type: 'error', code: 'bad_request', reason: 'subscribe and unsubscribe need a connection opened with ?channels=' });
      return this.#channels.handle(frame);
    }
    const key = frame.key;
    if (!this.#canPublish) return this.#send({ type: 'error', code: 'unauthorized', reason: 'a valid bearer token is required', key });
    if (this.#ctx.publishRate.take(this.#client) > 0) return this.#send({ type: 'error', code: 'rate_limited', reason: 'too many messages', key });
    try {
      const text = checkMessageText(frame.text, this.#ctx.options.maxBodyBytes);
      const { message } = await this.#ctx.hub.publish(frame.channel ?? this.#channel, text, key);
      this.#send({ type: 'published', id: message.id, time: message.time, key });
    } catch (error) {
      this.#send({ type: 'error', ...publishError(error), key });
    }
  }

  /** An auth frame adds publishing when its token grants it; tries count against the publish rate. */
  #authorize(token: string): void {
    if (this.#ctx.publishRate.take(this.#client) > 0) return this.#send({ type: 'error', code: 'rate_limited', reason: 'too many tries' });
    if (!this.#ctx.rights([token]).publish) return this.#send({ type: 'error', code: 'unauthorized', reason: 'that token does not grant publishing' });
    this.#canPublish = true;
    this.#send({ type: 'authorized', publish: true });
  }

  /** A multi-channel connection: its channels are followed by SocketChannels. */
  #startChannels(set: ChannelSet, tokens: readonly string[]): void {
    this.#channels = new SocketChannels({
      hub: this.#ctx.hub,
      max: this.#ctx.options.maxChannelsPerConnection,
      send: (frame) => this.#send(frame),
      overflowed: () => this.#ws.bufferedAmount > this.#ctx.options.streamBufferBytes && (this.#ws.terminate(), true),
      mayRead: () => this.#ctx.rights(tokens).subscribe,
      released: () => this.release(),
    });
    this.#channels.start(set);
  }

  #send(frame: Record<string, unknown>): void {
    this.#ws.send(JSON.stringify(frame));
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#subscription?.cancel();
    this.#channels?.close();
    open.delete(this);
    if (open.size === 0) {
      clearInterval(pinger);
      pinger = undefined;
    }
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
  const { type, text, key, token, channel } = value as Record<string, unknown>;
  if (type === 'subscribe' || type === 'unsubscribe') return parseChannelRequest(type, value as Record<string, unknown>);
  if (channel !== undefined && (typeof channel !== 'string' || !CHANNEL_NAME.test(channel))) return undefined;
  if (type === 'auth') return typeof token === 'string' && token !== '' ? { type, token } : undefined;
  if (type !== 'publish' || typeof text !== 'string') return undefined;
  if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) return undefined;
  return { type, text, ...(key !== undefined && { key }), ...(channel !== undefined && { channel: channel as string }) };
}

function publishError(error: unknown): { code: string; reason: string } {
  if (error instanceof HttpError) return { code: error.code, reason: error.message };
  if (error instanceof KeyReusedError) return { code: 'key_reused', reason: error.message };
  if (error instanceof HubFullError) return { code: 'too_many_channels', reason: error.message };
  if (error instanceof HubClosedError) return { code: 'shutting_down', reason: 'server is shutting down' };
  if (error instanceof StorageUnavailableError) return { code: 'storage_unavailable', reason: error.message };
  console.error('pollcast: unexpected error', error);
  return { code: 'internal', reason: 'internal server error' };
}
