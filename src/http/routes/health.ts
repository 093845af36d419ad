import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context.js';

function answer(res: ServerResponse, status: number, text: string): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain;charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(status === 503 && { 'retry-after': '1' }),
  });
  res.end(body);
}

/** `GET /healthz`: the process answers. Nothing else is checked: a failing dependency is `/readyz`'s. */
export function healthz(_req: IncomingMessage, res: ServerResponse): void {
  answer(res, 200, 'ok');
}

/**
 * `GET /readyz`: whether to send traffic here. `503` while starting (Redis
 * not connected yet), while shutting down (the router answers that for every
 * path), and while Redis does not answer.
 */
export function readyz(_req: IncomingMessage, res: ServerResponse, ctx: Context): void {
  if (ctx.starting) return answer(res, 503, 'starting');
  if (ctx.hub.stats().storage?.up === false) return answer(res, 503, 'message storage is unavailable');
  answer(res, 200, 'ready');
}
