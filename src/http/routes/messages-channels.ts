import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context.js';
import type { Batch } from '../../protocol.js';
import { readChannelSet, touchPresence, writeChannelBatches } from './channel-set.js';

/**
 * `GET /messages?channels=a,b&since=a:CURSOR`: interval polling over several
 * channels. Answers at once with a batch for every channel: what came after
 * its cursor, or an empty batch at its position.
 */
export async function messagesChannels(req: IncomingMessage, res: ServerResponse, ctx: Context, query: URLSearchParams): Promise<void> {
  const set = await readChannelSet(req, ctx, query);
  touchPresence(ctx, set);
  const read = await Promise.all(set.channels.map((channel) => ctx.hub.read(channel, set.since.get(channel))));
  const batches = new Map<string, Batch>();
  set.channels.forEach((channel, i) => batches.set(channel, read[i]!));
  writeChannelBatches(res, batches, ctx.outbound);
}
