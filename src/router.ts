import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClientGoneError } from './body.js';
import type { Context } from './context.js';
import { HttpError, SHUTTING_DOWN, fromHubError, sendError } from './errors.js';
import { events } from './routes/events.js';
import { messages } from './routes/messages.js';
import { presence } from './routes/presence.js';
import { publish } from './routes/publish.js';
import { createStatic } from './routes/static.js';
import { stats } from './routes/stats.js';
import { subscribe } from './routes/subscribe.js';
import { upgradeRequired } from './routes/websocket.js';
import { checkChannel, splitPath, splitTarget } from './target.js';

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
  ['presence', endpoint(['GET', 'HEAD'], true, presence)],
]);

const STATIC_METHODS = accepting(['GET', 'HEAD']);


/**
 * The request listener: `(method, path)` → endpoint, static files for the
 * rest, and the one place where anything thrown becomes an answer.
 */
export function createRouter(ctx: Context): (req: IncomingMessage, res: ServerResponse) => void {
  const serveStatic = createStatic(ctx.options.publicDir);

  return function route(req, res) {
    try {
      if (ctx.closing) throw SHUTTING_DOWN;
      const { path, query } = splitTarget(req.url ?? '');
      const [name, channel] = splitPath(path);
      const found = ENDPOINTS.get(name);
      if (!found || (channel !== undefined && !found.channels)) {
        allowMethod(req, STATIC_METHODS);
        serveStatic(req, res);
        return;
      }
      if (ctx.cors.enabled) {
        if (req.method === 'OPTIONS') return ctx.cors.preflight(req, res, found.allow);
        ctx.cors.allow(req, res);
      }
      allowMethod(req, found);
      const done = found.handle(req, res, ctx, checkChannel(channel), query);
      if (done) done.catch((error: unknown) => answerError(res, error));
    } catch (error) {
      answerError(res, error);
    }
  };
}

function allowMethod(req: IncomingMessage, target: Methods): void {
  if (!target.methods.has(req.method ?? '')) {
    throw new HttpError('method_not_allowed', `method ${req.method} is not allowed here; use ${target.allow}`, { allow: target.allow });
  }
}

function answerError(res: ServerResponse, error: unknown): void {
  if (error instanceof ClientGoneError) return;
  sendError(res, fromHubError(error));
}
