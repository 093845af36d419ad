import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createContext } from './context.js';
import type { Context } from './context.js';
import type { Hub } from './hub.js';
import { MemoryHub } from './memory-hub.js';
import { RedisHub } from './redis-hub.js';
import { resolveOptions } from './options.js';
import type { PollcastOptions } from './options.js';
import { createRouter } from './router.js';
import { createUpgrade } from './routes/websocket.js';

/** `new` → `listening` → `closing` → `closed`; `close()` may come at any point. */
export type PollcastState = 'new' | 'listening' | 'closing' | 'closed';

/**
 * A pollcast server: the hub, the request handler, and (when you let it) the
 * `http.Server` that runs them.
 *
 * @example
 * const pollcast = createPollcast({ port: 0 });
 * const { port } = await pollcast.listen();
 * // ...
 * await pollcast.close();
 */
export class PollcastServer {
  readonly options: PollcastOptions;
  readonly hub: Hub;
  /**
   * The request listener, for mounting in a server of your own:
   * `http.createServer(pollcast.handle)`.
   */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * The `'upgrade'` listener for WebSockets at `/ws[/CHANNEL]`, for a server
   * of your own: `server.on('upgrade', pollcast.handleUpgrade)`.
   */
  readonly handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly #context: Context;
  #server: Server | undefined;
  #state: PollcastState = 'new';
  #closed: Promise<void> | undefined;

  constructor(options: Partial<PollcastOptions> = {}, hub?: Hub) {
    this.options = resolveOptions(options);
    this.hub = hub ?? defaultHub(this.options);
    this.#context = createContext(this.hub, this.options);
    this.handle = createRouter(this.#context);
    this.handleUpgrade = createUpgrade(this.#context);
  }

  get state(): PollcastState {
    return this.#state;
  }

  /** The address bound by `listen()`; undefined before it and when embedded. */
  get address(): AddressInfo | undefined {
    return (this.#server?.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Connects the hub to its storage (Redis), then binds
   * `options.host:options.port`; resolves with the address actually bound.
   * Rejects when the storage cannot be reached.
   */
  async listen(): Promise<AddressInfo> {
    if (this.#state !== 'new') throw new Error(`cannot listen when ${this.#state}`);
    await this.hub.open?.();
    await this.#context.presence.open?.();
    if (this.#state !== 'new') throw new Error(`cannot listen when ${this.#state}`);
    const server = createServer({
      headersTimeout: this.options.headersTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs,
      // Node checks the two timeouts above only this often (30 s by default): a slowloris would outlast them.
      connectionsCheckingInterval: Math.min(1_000, this.options.headersTimeoutMs),
    }, this.handle);
    server.on('clientError', answerClientError);
    server.on('upgrade', this.handleUpgrade);
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        this.#state = 'listening';
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /**
   * Shuts down actively: refuses new requests with 503 + `Connection: close`,
   * answers every parked poll now (a plain `server.close()` would wait for
   * their timeouts), closes idle sockets, and cuts the rest after
   * `shutdownGraceMs`. Returns the same promise every time.
   */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#state = 'closing';
    this.#context.closing = true;
    const server = this.#server;
    const stopped = server?.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    const hubClosed = Promise.all([this.hub.close(), this.#context.presence.close()]);
    server?.closeIdleConnections();
    const deadline = setTimeout(() => server?.closeAllConnections(), this.options.shutdownGraceMs);
    await Promise.all([stopped, hubClosed]);
    clearTimeout(deadline);
    this.#state = 'closed';
  }
}

/** Redis when a URL is given, else the embedded in-memory hub. */
function defaultHub(options: PollcastOptions): Hub {
  const { historyLimit, historyBytes, maxChannels, redisUrl } = options;
  return redisUrl ? new RedisHub({ url: redisUrl, historyLimit, maxChannels }) : new MemoryHub({ historyLimit, historyBytes, maxChannels });
}

/** Node's parser errors, answered like every other error: a status and a one-line reason. */
const PARSE_ERRORS: Record<string, readonly [status: string, reason: string]> = {
  HPE_HEADER_OVERFLOW: ['431 Request Header Fields Too Large', 'request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: ['408 Request Timeout', 'request took too long to arrive'],
};
const MALFORMED = ['400 Bad Request', 'malformed HTTP request'] as const;

function answerClientError(error: NodeJS.ErrnoException, socket: Duplex & { _httpMessage?: unknown }): void {
  // ECONNRESET and friends: the client is gone, there is nobody to answer. And
  // behind an answer still under way (or a poll still held) an error answer
  // would land inside that answer, or out of order: the connection can only end.
  if (!socket.writable || error.code === 'ECONNRESET' || socket._httpMessage) {
    socket.destroy();
    return;
  }
  const [status, reason] = PARSE_ERRORS[error.code ?? ''] ?? MALFORMED;
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain;charset=utf-8\r\ncontent-length: ${reason.length + 1}\r\nconnection: close\r\n\r\n${reason}\n`);
}

/** Creates a server without binding it; see `PollcastServer`. */
export function createPollcast(options: Partial<PollcastOptions> = {}, hub?: Hub): PollcastServer {
  return new PollcastServer(options, hub);
}

/** Creates a server and binds it; resolves once it is listening. */
export async function startPollcast(options: Partial<PollcastOptions> = {}, hub?: Hub): Promise<PollcastServer> {
  const pollcast = createPollcast(options, hub);
  await pollcast.listen();
  return pollcast;
}
