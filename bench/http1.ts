/**
 * A deliberately small HTTP/1.1 client for the load generator: one keep-alive connection, one
 * request at a time, responses framed by Content-Length, chunked encoding or close. Node's own
 * client spends ~100 µs of CPU per response, which on two cores made the generator, not the
 * server, the bottleneck (10k polls answered at once took 0.5 s in the client alone); this one
 * spends a fraction of that. `--client node` in bench.ts switches back to `http.request` with a
 * keep-alive `http.Agent` for comparison.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { type Agent, request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { nowMs } from './wire.js';
import type { Answer, ByteMeter } from './wire.js';

/** An answer and when its last byte arrived (nowMs()). */
export interface TimedAnswer extends Answer {
  at: number;
}

export interface Client {
  /** Opens the connection ahead of the first request (resolves at once if open). */
  connect(): Promise<void>;
  send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<TimedAnswer>;
  destroy(): void;
}

const EMPTY = Buffer.alloc(0);
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

interface Pending {
  resolve: (answer: TimedAnswer) => void;
  reject: (error: Error) => void;
}

/** One connection to 127.0.0.1:port, optionally from a given loopback address. */
export class RawClient implements Client {
  private socket: Socket | undefined;
  private connecting: Promise<void> | undefined;
  private buffer: Buffer = EMPTY;
  private pending: Pending | undefined;
  // The response being read.
  private status = 0;
  private headers: IncomingHttpHeaders | undefined;
  private length = -1; // -1: until close; -2: chunked
  private chunks: Buffer[] = [];
  private close = false;
  private readonly port: number;
  private readonly localAddress: string | undefined;
  private readonly meter: ByteMeter | undefined;

  constructor(port: number, localAddress?: string, meter?: ByteMeter) {
    this.port = port;
    this.localAddress = localAddress;
    this.meter = meter;
  }

  connect(): Promise<void> {
    if (this.socket && !this.socket.connecting) return Promise.resolve();
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: this.port, localAddress: this.localAddress, noDelay: true });
      this.socket = socket;
      this.meter?.track(socket);
      socket.once('connect', () => {
        this.connecting = undefined;
        resolve();
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (error) => {
        if (this.connecting && this.socket === socket) {
          this.connecting = undefined;
          reject(error);
        }
        this.fail(socket, error);
      });
      socket.on('close', () => {
        // A response framed by the connection's end is complete now.
        if (this.socket === socket && this.headers && this.length === -1 && this.pending) this.finish();
        this.fail(socket, new Error('connection closed'));
      });
    });
    return this.connecting;
  }

  async send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<TimedAnswer> {
    if (this.pending) throw new Error('one request at a time');
    await this.connect();
    const socket = this.socket;
    if (!socket) throw new Error('not connected');
    let head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    head += '\r\n';
    return new Promise<TimedAnswer>((resolve, reject) => {
      this.pending = { resolve, reject };
      socket.write(body === undefined ? head : head + body);
    });
  }

  destroy(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    const pending = this.pending;
    this.reset();
    pending?.reject(new Error('destroyed'));
  }

  private fail(socket: Socket, error: Error): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    socket.destroy();
    const pending = this.pending;
    this.reset();
    pending?.reject(error);
  }

  private reset(): void {
    this.pending = undefined;
    this.buffer = EMPTY;
    this.headers = undefined;
    this.chunks = [];
    this.length = -1;
    this.close = false;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (!this.pending) {
      this.buffer = EMPTY; // nothing asked: ignore (no pipelining)
      return;
    }
    if (!this.headers && !this.readHead()) return;
    this.readBody();
  }

  private readHead(): boolean {
    const end = this.buffer.indexOf(HEAD_END);
    if (end < 0) {
      if (this.buffer.length > MAX_HEAD && this.socket) this.fail(this.socket, new Error('response head too large'));
      return false;
    }
    const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
    this.buffer = this.buffer.subarray(end + 4);
    this.status = Number(lines[0]!.slice(9, 12));
    const headers: IncomingHttpHeaders = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    this.headers = headers;
    this.close = /close/i.test(String(headers['connection'] ?? ''));
    if (this.status === 204 || this.status === 304 || this.status < 200) this.length = 0;
    else if (headers['content-length'] !== undefined) this.length = Number(headers['content-length']);
    else if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) this.length = -2;
    else this.length = -1;
    return true;
  }

  private readBody(): void {
    if (this.length >= 0) {
      if (this.buffer.length < this.length) return;
      this.chunks.push(this.buffer.subarray(0, this.length));
      this.buffer = this.buffer.subarray(this.length);
      this.finish();
      return;
    }
    if (this.length === -1) {
      this.chunks.push(this.buffer);
      this.buffer = EMPTY;
      return; // complete on close
    }
    // Chunked. Bounded: each turn consumes one chunk of the buffer or returns.
    for (;;) {
      const lineEnd = this.buffer.indexOf('\r\n');
      if (lineEnd < 0) return;
      const size = parseInt(this.buffer.toString('latin1', 0, lineEnd), 16);
      if (!Number.isFinite(size)) {
        if (this.socket) this.fail(this.socket, new Error('bad chunk'));
        return;
      }
      if (size === 0) {
        const trailerEnd = this.buffer.indexOf(HEAD_END, lineEnd);
        const plainEnd = this.buffer.indexOf('\r\n', lineEnd + 2);
        if (plainEnd === lineEnd + 2) {
          this.buffer = this.buffer.subarray(plainEnd + 2);
        } else if (trailerEnd >= 0) {
          this.buffer = this.buffer.subarray(trailerEnd + 4);
        } else {
          return;
        }
        this.finish();
        return;
      }
      if (this.buffer.length < lineEnd + 2 + size + 2) return;
      this.chunks.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      this.buffer = this.buffer.subarray(lineEnd + 2 + size + 2);
    }
  }

  private finish(): void {
    const at = nowMs();
    const pending = this.pending!;
    const answer: TimedAnswer = {
      status: this.status,
      headers: this.headers!,
      body: this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks),
      at,
    };
    const close = this.close;
    this.pending = undefined;
    this.headers = undefined;
    this.chunks = [];
    this.length = -1;
    this.close = false;
    if (close && this.socket) {
      const socket = this.socket;
      this.socket = undefined;
      socket.destroy();
    }
    pending.resolve(answer);
  }
}

/** The same through Node's http.request and a keep-alive http.Agent (shared by many clients). */
export class NodeClient implements Client {
  private current: ReturnType<typeof request> | undefined;
  private readonly port: number;
  private readonly localAddress: string | undefined;
  private readonly agent: Agent;
  private readonly meter: ByteMeter | undefined;

  constructor(agent: Agent, port: number, localAddress?: string, meter?: ByteMeter) {
    this.agent = agent;
    this.port = port;
    this.localAddress = localAddress;
    this.meter = meter;
  }

  connect(): Promise<void> {
    return Promise.resolve(); // the agent opens connections on demand
  }

  send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<TimedAnswer> {
    return new Promise((resolve, reject) => {
      const all = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
      const req = request(
        { host: '127.0.0.1', port: this.port, method, path, headers: all, agent: this.agent, localAddress: this.localAddress },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            this.current = undefined;
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), at: nowMs() });
          });
          res.on('error', reject);
        },
      );
      this.current = req;
      if (this.meter) req.on('socket', (socket) => this.meter!.track(socket));
      req.on('error', (error) => {
        this.current = undefined;
        reject(error);
      });
      req.end(body);
    });
  }

  destroy(): void {
    this.current?.destroy();
    this.current = undefined;
  }
}
