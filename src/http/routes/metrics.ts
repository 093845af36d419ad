import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context.js';
import { registry } from '../../metrics.js';

/** `GET /metrics`: every metric in the Prometheus text format; needs the admin token (or else the subscribe token) when one is set. */
export async function metrics(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Context,
  _channel: string,
  query: URLSearchParams,
): Promise<void> {
  ctx.requireAdminToken(req, query);
  const body = await ctx.scrape();
  res.writeHead(200, {
    'content-type': registry.contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
