import { createServer, Server } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createContext } from './http/context.js';
import { endSocket, HttpError } from './http/errors.js';
import { createLogger } from './log.js';
import type { Logger } from './log.js';
import type { Context } from './http/context.js';
import type { Hub } from './hub.js';
import { MemoryHub } from './memory-hub.js';
import { RedisHub } from './redis/hub.js';
import { RedisPresence } from './redis/presence.js';
import { LocalPresence } from './presence.js';
import type { Presence } from './presence.js';
import { resolveOptions } from './options.js';
import type { PollcastOptions } from './options.js';
import { createRouter } from './http/router.js';
import { createUpgrade } from './http/routes/websocket.js';
import { isWebSocketUpgrade, serveAsHttp1 } from './http/upgrades.js';

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
   * of your own: `server.on('upgrade', pollcast.handleUpgrade)`. Attached so,
   * it hands every other upgrade offer (`Upgrade: h2c`, …) back to that
   * server as an ordinary HTTP/1.1 request (Node calls a listener with the
   * server as `this`); called otherwise, it refuses them.
   */
  readonly handleUpgrade: (this: unknown, req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * With `adminPort`, the listener for `/stats`, `/metrics`, `/healthz` and
   * `/readyz` that `listen()` binds there (`handle` then leaves out the first two).
   */
  readonly handleAdmin: (req: IncomingMessage, res: ServerResponse) => void;
  /** One JSON line per event; see `logLevel`. */
  readonly log: Logger;
  readonly #context: Context;
  #server: Server | undefined;
  #adminServer: Server | undefined;
  #state: PollcastState = 'new';
  #closed: Promise<void> | undefined;

  constructor(options: Partial<PollcastOptions> = {}, hub?: Hub, log?: Logger) {
    this.options = resolveOptions(options);
    this.log = log ?? createLogger(this.options.logLevel);
    this.hub = hub ?? defaultHub(this.options, this.log);
    this.#context = createContext(this.hub, defaultPresence(this.options), this.options, this.log);
    const separate = this.options.adminPort !== 0;
    this.handle = createRouter(this.#context, separate ? 'public' : 'all');
    this.handleAdmin = createRouter(this.#context, 'admin');
    const webSocket = createUpgrade(this.#context);
    this.handleUpgrade = function handleUpgrade(this: unknown, req, socket, head) {
      if (this instanceof Server && !isWebSocketUpgrade(req)) serveAsHttp1(this, req, socket, head);
      else webSocket(req, socket, head);
    };
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
    const { host, port, adminHost, adminPort, redisUrl } = this.options;
    this.log.info({ event: 'start', host, port, adminPort: adminPort || undefined, storage: redisUrl ? 'redis' : 'memory' }, 'starting');
    this.#context.starting = true;
    // The admin port comes first, so that /readyz can say "starting" while the storage connects.
    if (adminPort !== 0) {
      this.#adminServer = createServer(this.handleAdmin);
      const admin = await bind(this.#adminServer, adminPort, adminHost);
      this.log.info(
        { event: 'listen', role: 'admin', host: adminHost, port: admin.port },
        `admin listening on http://${displayHost(adminHost)}:${admin.port}/`,
      );
    }
    try {
      await this.hub.open?.();
    } catch (error) {
      this.#adminServer?.close();
      throw error;
    }
    await this.#context.presence.open?.();
    if (this.#state !== 'new') throw new Error(`cannot listen when ${this.#state}`);
    const server = createServer(
      {
        headersTimeout: this.options.headersTimeoutMs,
        requestTimeout: this.options.requestTimeoutMs,
        // Node checks the two timeouts above only this often (30 s by default): a slowloris would outlast them.
        connectionsCheckingInterval: Math.min(1_000, this.options.headersTimeoutMs),
      },
      this.handle,
    );
    server.on('clientError', answerClientError);
    server.on('upgrade', this.handleUpgrade);
    server.on('connect', refuseConnect);
    this.#server = server;
    const address = await bind(server, port, host);
    this.#state = 'listening';
    this.#context.starting = false;
    this.log.info(
      { event: 'listen', role: 'public', host, port: address.port },
      `pollcast listening on http://${displayHost(host)}:${address.port}/`,
    );
    return address;
  }

  /** The port the admin listener is bound to; undefined without `adminPort` or before `listen()`. */
  get adminAddress(): AddressInfo | undefined {
    return (this.#adminServer?.address() as AddressInfo | null) ?? undefined;
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
    this.#context.heartbeat.close();
    this.log.info(
      { event: 'shutdown', step: 'refusing', waiting: this.hub.stats().waiting },
      'shutting down: new requests get 503, held polls are answered',
    );
    const servers = [this.#server, this.#adminServer].filter((server) => server !== undefined);
    const stopped = Promise.all(
      servers.map((server) => (server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined)),
    );
    const hubClosed = Promise.all([this.hub.close(), this.#context.presence.close()]).then(() =>
      this.log.info({ event: 'shutdown', step: 'hub-closed' }, 'hub closed'),
    );
    for (const server of servers) server.closeIdleConnections();
    const deadline = setTimeout(() => {
      this.log.warn(
        { event: 'shutdown', step: 'forced', graceMs: this.options.shutdownGraceMs },
        'grace period over: cutting the remaining connections',
      );
      for (const server of servers) server.closeAllConnections();
    }, this.options.shutdownGraceMs);
    await Promise.all([stopped, hubClosed]);
    clearTimeout(deadline);
    this.#state = 'closed';
    this.log.info({ event: 'shutdown', step: 'closed' }, 'closed');
  }
}

/** Who is subscribed where: across the instances on Redis, else in this process. */
function defaultPresence(options: PollcastOptions): Presence {
  // One entry per author per channel, as many as subscribers can be held at once.
  const budget = options.maxWaiting;
  return options.redisUrl ? new RedisPresence(options.redisUrl, budget) : new LocalPresence(budget);
}

/** Redis when a URL is given, else the embedded in-memory hub. */
function defaultHub(options: PollcastOptions, log: Logger): Hub {
  const { historyLimit, historyBytes, maxChannels, redisUrl } = options;
  // A quarter of the history budget: batches shared by clients resuming together are small; a whole channel's is not worth more.
  const batchCacheBytes = Math.ceil(historyBytes / 4);
  return redisUrl
    ? new RedisHub({ url: redisUrl, historyLimit, maxChannels, batchCacheBytes, log })
    : new MemoryHub({ historyLimit, historyBytes, batchCacheBytes, maxChannels });
}

/** Binds `server`; resolves with the address, rejects with the bind error (EADDRINUSE, …). */
function bind(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** An IPv6 address goes in brackets in a URL. */
function displayHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Node's parser errors, answered like every other error: a status, a stable code and a one-line reason. */
const PARSE_ERRORS: Record<string, HttpError> = {
  HPE_HEADER_OVERFLOW: new HttpError('headers_too_large', 'request headers are too large'),
  ERR_HTTP_REQUEST_TIMEOUT: new HttpError('request_timeout', 'request took too long to arrive'),
};
const MALFORMED = new HttpError('malformed_request', 'malformed HTTP request');

/** `CONNECT` asks for a tunnel: there is none to be had. */
const NOT_A_PROXY = new HttpError('method_not_allowed', 'pollcast is not a proxy: CONNECT is not supported', { allow: '' });

function answerClientError(error: NodeJS.ErrnoException, socket: Duplex & { _httpMessage?: ServerResponse | null }): void {
  // ECONNRESET and friends: the client is gone, there is nobody to answer.
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  // A response under way or still held (a parked poll) belongs to an earlier
  // request: an error answer would land inside it, or take its place. Only
  // when the error is in the body of the request being handled, and nothing
  // of its answer is written yet, is the error answer the next thing due.
  const current = socket._httpMessage;
  if (current && (current.headersSent || current.req.complete)) {
    socket.destroy();
    return;
  }
  endSocket(socket, PARSE_ERRORS[error.code ?? ''] ?? MALFORMED);
}

/** `CONNECT` asks for a tunnel (Node hands it over outside the request handler): there is none to be had. */
function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  endSocket(socket, NOT_A_PROXY);
}

/** Creates a server without binding it; see `PollcastServer`. */
export function createPollcast(options: Partial<PollcastOptions> = {}, hub?: Hub, log?: Logger): PollcastServer {
  return new PollcastServer(options, hub, log);
}

/** Creates a server and binds it; resolves once it is listening. */
export async function startPollcast(options: Partial<PollcastOptions> = {}, hub?: Hub, log?: Logger): Promise<PollcastServer> {
  const pollcast = createPollcast(options, hub, log);
  await pollcast.listen();
  return pollcast;
}
