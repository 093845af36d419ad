import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context.js';
import { writeBatch } from './subscribe.js';
import { wantsChannelSet } from './channel-set.js';
import { messagesChannels } from './messages-channels.js';

/**
 * `GET /messages[/CHANNEL][?since=CURSOR]`: for clients that poll on an
 * interval. Answers at once, always JSON: every message after `since` (the
 * same batch as `/subscribe`), or an empty batch whose cursor is where to
 * ask from next.
 */
export async function messages(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams): Promise<void> {
  if (wantsChannelSet(query)) return messagesChannels(req, res, ctx, query);
  ctx.requireSubscribeToken(req, query);
  const batch = await ctx.hub.read(channel, query.get('since') ?? undefined);
  writeBatch(res, batch);
}
