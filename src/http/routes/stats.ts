import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context.js';

/**
 * `GET /stats`: the hub's counters, the outbound budget's, and the process's memory so that growth
 * can be watched. It tells who is listening and how much, so it needs the
 * admin token, or else the subscribe token, when one is set.
 */
export function stats(req: IncomingMessage, res: ServerResponse, ctx: Context, _channel: string, query: URLSearchParams): void {
  ctx.requireAdminToken(req, query);
  const { rss, heapUsed } = process.memoryUsage();
  const tokens = ctx.auth.stats();
  const body = JSON.stringify({
    ...ctx.hub.stats(),
    outbound: ctx.outbound.stats(),
    presence: ctx.presence.stats(),
    ...(tokens && { tokens }),
    memory: { rss, heapUsed },
  });
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
