/**
 * The streaming subscribers of the bench: one server-sent event stream (`/events`) or one
 * WebSocket (`/ws`) per subscriber, resumed from the last id after any drop. By default each is
 * read off a bare socket (`--client raw`): the request head written by hand, then the event
 * stream's chunked body or the WebSocket's frames parsed in place. Node's `http.get` and the `ws`
 * client (`--client node`) cost the generator more per delivery than the server spends: with
 * 1000 subscribers they saturated a core of their own, so the bench measured them, not the server.
 */
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import type { ClientRequest } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { nowMs } from './wire.js';
import type { ByteMeter, ClientKind } from './wire.js';

/** What a stream tells its subscriber. */
export interface StreamSink {
  /** The stream is open: the server holds this subscriber. */
  ready(): void;
  /** Messages, in the order the server sent them, and when their bytes arrived. */
  texts(texts: string[], at: number): void;
  missed(): void;
  /** The stream failed or ended; it reconnects unless stopped. */
  error(): void;
}

export type StreamKind = 'sse' | 'ws';

export interface StreamSpec {
  kind: StreamKind;
  port: number;
  channel: string;
  localAddress: string | undefined;
  deadlineMs: number;
  /** Reconnections allowed before the subscriber gives up. */
  maxErrors: number;
  /** Where the stream's sockets are counted. */
  meter: ByteMeter;
  client: ClientKind;
}

const RETRY_MS = 100;

/** One subscriber's stream; `run()` resolves when it is closed, past the deadline, or out of retries. */
export class Stream {
  readonly #spec: StreamSpec;
  readonly #sink: StreamSink;
  /** The last id seen: where a reconnection resumes. */
  #cursor = '0';
  #errors = 0;
  #closed = false;
  #close: (() => void) | undefined;

  constructor(spec: StreamSpec, sink: StreamSink) {
    this.#spec = spec;
    this.#sink = sink;
  }

  async run(): Promise<void> {
    // Bounded by the deadline, close() and the error budget.
    while (!this.#closed && nowMs() < this.#spec.deadlineMs && this.#errors <= this.#spec.maxErrors) {
      const { kind, client } = this.#spec;
      await (client === 'raw' ? this.#raw() : kind === 'sse' ? this.#events() : this.#socket());
      if (this.#closed) return;
      this.#errors++;
      this.#sink.error();
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  close(): void {
    this.#closed = true;
    this.#close?.();
  }

  /** Resolves when the event stream ends, for whatever reason. */
  #events(): Promise<void> {
    return new Promise((resolve) => {
      const { port, channel, localAddress } = this.#spec;
      const req: ClientRequest = get(
        {
          host: '127.0.0.1',
          port,
          localAddress,
          agent: false,
          path: `/events/${channel}`,
          headers: { accept: 'text/event-stream', 'last-event-id': this.#cursor },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            res.once('end', resolve);
            return;
          }
          this.#sink.ready();
          const parser = new EventStreamReader();
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => this.#heard(parser.push(chunk), nowMs()));
          res.once('close', resolve);
        },
      );
      req.once('socket', (socket) => this.#spec.meter.track(socket));
      req.once('error', () => resolve());
      this.#close = () => req.destroy();
    });
  }

  /** Resolves when the socket closes, for whatever reason. */
  #socket(): Promise<void> {
    return new Promise((resolve) => {
      const { port, channel, localAddress } = this.#spec;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/${channel}?since=${encodeURIComponent(this.#cursor)}`, {
        perMessageDeflate: false,
        localAddress,
      });
      ws.once('upgrade', (res) => this.#spec.meter.track(res.socket));
      ws.on('open', () => this.#sink.ready());
      ws.on('message', (data: Buffer) => this.#heard([parseFrame(data.toString('utf8'))], nowMs()));
      ws.on('error', () => undefined); // 'close' follows
      ws.once('close', () => resolve());
      this.#close = () => ws.terminate();
    });
  }

  /** Resolves when the bare socket closes, for whatever reason. */
  #raw(): Promise<void> {
    return new Promise((resolve) => {
      const { kind, port, channel, localAddress } = this.#spec;
      const socket = connect({ host: '127.0.0.1', port, localAddress, noDelay: true });
      this.#spec.meter.track(socket);
      const head =
        kind === 'sse'
          ? `GET /events/${channel} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nLast-Event-ID: ${this.#cursor}\r\n\r\n`
          : `GET /ws/${channel}?since=${encodeURIComponent(this.#cursor)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
            `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
      const reader: BodyReader = kind === 'sse' ? new ChunkedEvents() : new Frames(socket);
      let pending: Buffer | undefined = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        const at = nowMs();
        if (pending) {
          // The answer's head: 200 for an event stream, 101 for a WebSocket, else give up and retry.
          pending = Buffer.concat([pending, chunk]);
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          const status = Number(pending.toString('latin1', 9, 12));
          if (status !== (kind === 'sse' ? 200 : 101)) return socket.destroy();
          chunk = pending.subarray(end + 4);
          pending = undefined;
          this.#sink.ready();
        }
        const events = reader.push(chunk);
        if (events === undefined) return socket.destroy();
        if (events.length > 0) this.#heard(events, at);
      });
      socket.on('error', () => undefined); // 'close' follows
      socket.once('close', () => resolve());
      socket.write(head);
      this.#close = () => socket.destroy();
    });
  }

  #heard(events: StreamEvent[], at: number): void {
    const texts: string[] = [];
    for (const event of events) {
      if (event.cursor) this.#cursor = event.cursor;
      if (event.missed) this.#sink.missed();
      if (event.text !== undefined) texts.push(event.text);
    }
    this.#sink.texts(texts, at);
  }
}

/** One event of either stream: a message, a missed notice, or a bare move of the cursor. */
interface StreamEvent {
  cursor?: string;
  text?: string;
  missed?: boolean;
}

interface Frame {
  type: string;
  id?: string;
  text?: string;
  cursor?: string;
}

function parseFrame(data: string): StreamEvent {
  const frame = JSON.parse(data) as Frame;
  if (frame.type === 'message') return { cursor: frame.id, text: frame.text ?? '' };
  if (frame.type === 'missed') return { missed: true };
  return { cursor: frame.cursor };
}

/**
 * The event-stream framing pollcast writes (LF line ends, `id:`, `event:`, `data:`, `:`
 * comments), read incrementally: the bench's messages are one line each, so this is not the
 * full WHATWG parser (the browser client has that).
 */
class EventStreamReader {
  #rest = '';

  push(chunk: string): StreamEvent[] {
    const blocks = (this.#rest + chunk).split('\n\n');
    this.#rest = blocks.pop() ?? '';
    const events: StreamEvent[] = [];
    for (const block of blocks) {
      const event: StreamEvent = {};
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) event.cursor = line.slice(4);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
        else if (line === 'event: missed') event.missed = true;
      }
      // A missed event's data is its cursor record, not a message.
      if (data.length > 0 && !event.missed) event.text = data.join('\n');
      events.push(event);
    }
    return events;
  }
}

/** Reads a stream's body off the socket: the events in `chunk`, or undefined when it is broken or over. */
interface BodyReader {
  push(chunk: Buffer): StreamEvent[] | undefined;
}

/** An event stream's body as pollcast sends it: chunked transfer coding around the events. */
class ChunkedEvents implements BodyReader {
  readonly #events = new EventStreamReader();
  #rest: Buffer = Buffer.alloc(0);
  /** Bytes of the current chunk still to come; -1 while its size line is read. */
  #left = -1;

  push(chunk: Buffer): StreamEvent[] | undefined {
    let buffer = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    let text = '';
    for (;;) {
      if (this.#left < 0) {
        const lineEnd = buffer.indexOf('\r\n');
        if (lineEnd < 0) break;
        this.#left = parseInt(buffer.toString('latin1', 0, lineEnd), 16);
        // The last chunk (size 0) ends the stream.
        if (!(this.#left > 0)) return undefined;
        buffer = buffer.subarray(lineEnd + 2);
      }
      // The chunk's data, then its CRLF.
      if (buffer.length < this.#left + 2) {
        if (buffer.length > this.#left) break;
        text += buffer.toString('utf8');
        this.#left -= buffer.length;
        buffer = buffer.subarray(buffer.length);
        break;
      }
      text += buffer.toString('utf8', 0, this.#left);
      buffer = buffer.subarray(this.#left + 2);
      this.#left = -1;
    }
    this.#rest = buffer;
    return text === '' ? [] : this.#events.push(text);
  }
}

/** A WebSocket's frames from the server (never masked); pings are answered, a close ends it. */
class Frames implements BodyReader {
  readonly #socket: Socket;
  #rest: Buffer = Buffer.alloc(0);
  /** Payloads of a fragmented message so far. */
  #parts: Buffer[] = [];

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  push(chunk: Buffer): StreamEvent[] | undefined {
    let buffer = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    const events: StreamEvent[] = [];
    while (buffer.length >= 2) {
      const opcode = buffer[0]! & 0x0f;
      const fin = (buffer[0]! & 0x80) !== 0;
      let length = buffer[1]! & 0x7f;
      let start = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        start = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        start = 10;
      }
      if (buffer.length < start + length) break;
      const payload = buffer.subarray(start, start + length);
      buffer = buffer.subarray(start + length);
      if (opcode === 0x8) return undefined;
      // A pong, masked with a zero key as a client must mask (XOR with zero leaves the payload as is).
      if (opcode === 0x9) this.#socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
      if (opcode !== 0x1 && opcode !== 0x0) continue;
      if (!fin) {
        this.#parts.push(payload);
        continue;
      }
      const whole = this.#parts.length > 0 ? Buffer.concat([...this.#parts, payload]) : payload;
      this.#parts = [];
      events.push(parseFrame(whole.toString('utf8')));
    }
    this.#rest = buffer.length > 0 ? Buffer.from(buffer) : Buffer.alloc(0);
    return events;
  }
}
