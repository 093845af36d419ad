/**
 * The streaming subscribers of the bench: one server-sent event stream (`/events`) or one
 * WebSocket (`/ws`) per subscriber, resumed from the last id after any drop. A stream is one
 * long answer, so Node's own client costs little here (the per-response cost that made the bench
 * write its own HTTP client does not arise): `http.get` reads the event stream, `ws` the socket.
 */
import { get } from 'node:http';
import type { ClientRequest } from 'node:http';
import { WebSocket } from 'ws';
import { nowMs } from './wire.js';
import type { ByteMeter } from './wire.js';

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
      await (this.#spec.kind === 'sse' ? this.#events() : this.#socket());
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
