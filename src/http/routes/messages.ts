import type { IncomingMessage, ServerResponse } from 'node:http';
import { admit } from '../admission.js';
import type { Admitted } from '../admission.js';
import { withRights } from '../auth.js';
import { presenceGrace } from '../context.js';
import type { Context } from '../context.js';
import * as metrics from '../../metrics.js';
import { writeBatch } from '../batch-answer.js';
import { wantsChannelSet } from './channel-set.js';
import { messagesChannels } from './messages-channels.js';

/**
 * `GET /messages[/CHANNEL][?since=CURSOR]`: for clients that poll on an
 * interval. Answers at once, always JSON: the messages after `since` (the
 * same batch as `/subscribe`, as much of it as one answer may carry), or an
 * empty batch whose cursor is where to ask from next.
 */
export function messages(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams): Promise<void> {
  if (wantsChannelSet(query)) return messagesChannels(req, res, ctx, query);
  return withRights(admit(ctx, req, query, 'subscribe', channel), (admitted) => answer(res, ctx, channel, query, admitted));
}

async function answer(res: ServerResponse, ctx: Context, channel: string, query: URLSearchParams, admitted: Admitted): Promise<void> {
  // An interval poller is listed like a long poll: until a poll timeout and a grace after its last request.
  if (admitted.from)
    ctx.presence.touch(channel, admitted.from, Date.now() + ctx.options.pollTimeoutMs + presenceGrace(ctx.options.pollTimeoutMs));
  const batch = await ctx.hub.read(channel, query.get('since') ?? undefined);
  if (batch.missed) metrics.missed('messages');
  writeBatch(res, batch, ctx.outbound);
}
