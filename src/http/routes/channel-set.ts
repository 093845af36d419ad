import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChannelSetError, CHANNELS_PARAM, encodeChannelBatches, parseChannelSet } from '../../channel-set.js';
import type { ChannelSet } from '../../channel-set.js';
import { presentedTokens, withRights } from '../auth.js';
import type { Context } from '../context.js';
import { sendAnswer } from '../batch-answer.js';
import { HttpError } from '../errors.js';
import type { Outbound } from '../outbound.js';
import { encodeBatch } from '../../protocol.js';
import type { Batch } from '../../protocol.js';
import { splitPath, splitTarget } from '../target.js';

const CHANNEL_TWICE = new HttpError('bad_request', 'name the channels either in the path or in channels=, not both');

/** Whether a request asks for several channels (`?channels=`), rather than the one of its path. */
export function wantsChannelSet(query: URLSearchParams): boolean {
  return query.has(CHANNELS_PARAM);
}

/**
 * The channels a request names, each with its cursor, checked: names,
 * cursors' form, the `maxChannelsPerConnection` limit, and the right to read
 * each channel. `400` (`bad_channel`, `bad_cursor`, `too_many_subscriptions`,
 * `bad_request` when the path names a channel too), `401` or `403`. At once
 * when the tokens are known, else once they are verified.
 */
export function readChannelSet(req: IncomingMessage, ctx: Context, query: URLSearchParams): ChannelSet | Promise<ChannelSet> {
  if (splitPath(splitTarget(req.url ?? '').path)[1] !== undefined) throw CHANNEL_TWICE;
  let set: ChannelSet;
  try {
    set = parseChannelSet(query.getAll(CHANNELS_PARAM), query.getAll('since'), ctx.options.maxChannelsPerConnection);
  } catch (error) {
    if (error instanceof ChannelSetError) throw new HttpError(error.code, error.message);
    throw error;
  }
  // The one place a set's rights are checked: every channel, by the rights its tokens grant there.
  return withRights(ctx.rights(presentedTokens(req, query)), (rights) => {
    for (const channel of set.channels) rights.check('subscribe', channel);
    return set;
  });
}

/**
 * A fan-out hands one batch to every waiter of a channel: its encoding is
 * made once, whichever sets it goes out in, and lives as long as the batch.
 */
const encoded = new WeakMap<Batch, string>();

function encodeShared(batch: Batch): string {
  let body = encoded.get(batch);
  if (body === undefined) {
    body = encodeBatch(batch);
    encoded.set(batch, body);
  }
  return body;
}

/** Answers `200` with a batch per channel, `{"channels": {"a": BATCH, ...}}`, counted against the outbound budget. */
export function writeChannelBatches(res: ServerResponse, batches: ReadonlyMap<string, Batch>, outbound: Outbound): void {
  const body = Buffer.from(encodeChannelBatches(batches, encodeShared));
  sendAnswer(res, outbound, body, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store' });
}
