import type { IncomingMessage, ServerResponse } from 'node:http';
import { admit } from '../admission.js';
import { withRights } from '../auth.js';
import type { Context } from '../context.js';
import type { Here } from '../../presence.js';

/**
 * `GET /presence[/CHANNEL]`: who is subscribed to the channel now, as
 * `{"here": [from, …]}` — the distinct authors of its open streams and
 * WebSockets, and of its polls that came back within a poll timeout and a
 * grace. Needs the right to subscribe to the channel.
 */
export function presence(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams): Promise<void> {
  return Promise.resolve(withRights(admit(ctx, req, query, 'subscribe', channel), () => ctx.presence.here(channel))).then((here) =>
    answer(res, here),
  );
}

function answer(res: ServerResponse, here: Here): void {
  const body = JSON.stringify(here);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
