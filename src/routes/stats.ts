import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context.js';

/** `GET /stats`: the hub's counters as JSON. */
export function stats(_req: IncomingMessage, res: ServerResponse, ctx: Context): void {
  const body = JSON.stringify(ctx.hub.stats());
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
