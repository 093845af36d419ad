import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context.js';
import { writeBatch } from '../batch-answer.js';
import * as metrics from '../metrics.js';

/**
 * `GET /messages[/CHANNEL][?since=CURSOR]`: for clients that poll on an
 * interval. Answers at once, always JSON: the messages after `since` (the
 * same batch as `/subscribe`, as much of it as one answer may carry), or an
 * empty batch whose cursor is where to ask from next.
 */
export async function messages(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams): Promise<void> {
  ctx.requireSubscribeToken(req, query);
  const batch = await ctx.hub.read(channel, query.get('since') ?? undefined);
  if (batch.missed) metrics.missed('messages');
  writeBatch(res, batch, ctx.outbound);
}
