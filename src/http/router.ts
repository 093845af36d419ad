import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClientGoneError } from './body.js';
import { noteRefusal } from './context.js';
import type { Context } from './context.js';
import { HttpError, SHUTTING_DOWN, fromHubError, sendError } from './errors.js';
import { events } from './routes/events.js';
import { healthz, readyz } from './routes/health.js';
import { messages } from './routes/messages.js';
import { metrics } from './routes/metrics.js';
import { presence } from './routes/presence.js';
import { publish } from './routes/publish.js';
import { createStatic } from './routes/static.js';
import { stats } from './routes/stats.js';
import { subscribe } from './routes/subscribe.js';
import { upgradeRequired } from './routes/websocket.js';
import { checkChannel, checkHost, splitPath, splitTarget } from './target.js';

type Handler = (req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams) => void | Promise<void>;

/** The methods a path accepts: the `Allow` header value, and the set it names. */
interface Methods {
  readonly allow: string;
  readonly methods: ReadonlySet<string>;
}

interface Endpoint extends Methods {
  /** Whether a `/<endpoint>/<channel>` form exists. */
  readonly channels: boolean;
  readonly handle: Handler;
}

function accepting(methods: string[]): Methods {
  return { allow: methods.join(', '), methods: new Set(methods) };
}

function endpoint(methods: string[], channels: boolean, handle: Handler): Endpoint {
  return { ...accepting(methods), channels, handle };
}

const ENDPOINTS = new Map<string, Endpoint>([
  ['publish', endpoint(['POST'], true, publish)],
  ['subscribe', endpoint(['GET'], true, subscribe)],
  ['messages', endpoint(['GET', 'HEAD'], true, messages)],
  ['events', endpoint(['GET'], true, events)],
  ['stats', endpoint(['GET', 'HEAD'], false, stats)],
  ['ws', endpoint(['GET'], true, upgradeRequired)],
  ['metrics', endpoint(['GET', 'HEAD'], false, metrics)],
  ['healthz', endpoint(['GET', 'HEAD'], false, healthz)],
  ['readyz', endpoint(['GET', 'HEAD'], false, readyz)],
  ['presence', endpoint(['GET', 'HEAD'], true, presence)],
]);

/** What only operators see: moved to the admin port when there is one. */
const ADMIN = new Set(['stats', 'metrics']);
/** What the admin port serves: the admin endpoints and the health checks, nothing else. */
const ON_ADMIN_PORT = new Set([...ADMIN, 'healthz', 'readyz']);

/** `all`: one port serves everything; `public` and `admin`: the two sides of `adminPort`. */
export type RouterRole = 'all' | 'public' | 'admin';

const STATIC_METHODS = accepting(['GET', 'HEAD']);

/**
 * The request listener: `(method, path)` → endpoint, static files for the
 * rest, and the one place where anything thrown becomes an answer.
 */
export function createRouter(ctx: Context, role: RouterRole = 'all'): (req: IncomingMessage, res: ServerResponse) => void {
  const serveStatic = role === 'admin' ? notFound : createStatic(ctx.options.publicDir);
  const serves = (name: string): boolean => role === 'all' || (role === 'admin' ? ON_ADMIN_PORT.has(name) : !ADMIN.has(name));

  return function route(req, res) {
    try {
      if (ctx.closing) throw SHUTTING_DOWN;
      checkHost(req);
      const { path, query } = splitTarget(req.url ?? '');
      const [name, channel] = splitPath(path);
      const found = serves(name) ? ENDPOINTS.get(name) : undefined;
      if (!found || (channel !== undefined && !found.channels)) {
        allowMethod(req, STATIC_METHODS);
        const policy = ctx.csp(req.headers.host);
        if (policy !== undefined) res.setHeader('content-security-policy', policy);
        serveStatic(req, res, path);
        return;
      }
      if (ctx.cors.enabled) {
        if (req.method === 'OPTIONS') return ctx.cors.preflight(req, res, found.allow);
        ctx.cors.allow(req, res);
      }
      allowMethod(req, found);
      const done = found.handle(req, res, ctx, checkChannel(channel), query);
      if (done) done.catch((error: unknown) => answerError(ctx, req, res, error));
    } catch (error) {
      answerError(ctx, req, res, error);
    }
  };
}

const NOT_FOUND = new HttpError('not_found', 'not found');

function notFound(): void {
  throw NOT_FOUND;
}

function allowMethod(req: IncomingMessage, target: Methods): void {
  if (!target.methods.has(req.method ?? '')) {
    throw new HttpError('method_not_allowed', `method ${req.method} is not allowed here; use ${target.allow}`, { allow: target.allow });
  }
}

function answerError(ctx: Context, req: IncomingMessage, res: ServerResponse, error: unknown): void {
  if (error instanceof ClientGoneError) return;
  const answer = fromHubError(error);
  if (answer instanceof HttpError) noteRefusal(ctx, req, answer.code);
  sendError(res, answer, ctx.log);
}
