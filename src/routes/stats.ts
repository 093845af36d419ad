import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context.js';

/** `GET /stats`: the hub's counters, and the process's memory so that growth can be watched. */
export function stats(_req: IncomingMessage, res: ServerResponse, ctx: Context): void {
  const { rss, heapUsed } = process.memoryUsage();
  const tokens = ctx.auth.stats();
  const body = JSON.stringify({ ...ctx.hub.stats(), presence: ctx.presence.stats(), ...(tokens && { tokens }), memory: { rss, heapUsed } });
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
