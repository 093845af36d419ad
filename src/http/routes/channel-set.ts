import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChannelSetError, CHANNELS_PARAM, encodeChannelBatches, parseChannelSet } from '../../channel-set.js';
import type { ChannelSet } from '../../channel-set.js';
import { presentedTokens, withRights } from '../auth.js';
import type { Identity } from '../identity.js';
import { presenceGrace } from '../context.js';
import type { Context } from '../context.js';
import { sendAnswer } from '../batch-answer.js';
import { HttpError } from '../errors.js';
import { declaredName, fromOf } from '../identity.js';
import type { Outbound } from '../outbound.js';
import { encodeBatch, HEADER } from '../../protocol.js';
import type { Batch, From } from '../../protocol.js';
import { splitPath, splitTarget } from '../target.js';

const CHANNEL_TWICE = new HttpError('bad_request', 'name the channels either in the path or in channels=, not both');

/** Whether a request asks for several channels (`?channels=`), rather than the one of its path. */
export function wantsChannelSet(query: URLSearchParams): boolean {
  return query.has(CHANNELS_PARAM);
}

/** A set let in: its channels and cursors, until when its rights last, and who follows it. */
export interface AdmittedSet extends ChannelSet {
  /** The earliest expiry of the grants that let each channel in (ms since the epoch; `Infinity` for ever). */
  readonly expires: number;
  /** The verified identity (of the first channel's grant that names one), else the declared name; for presence. */
  readonly from: From | undefined;
}

/**
 * The channels a request names, each with its cursor, checked: names,
 * cursors' form, the `maxChannelsPerConnection` limit, and the right to read
 * each channel. `400` (`bad_channel`, `bad_cursor`, `too_many_subscriptions`,
 * `bad_name`, `bad_request` when the path names a channel too), `401` or
 * `403`. At once when the tokens are known, else once they are verified.
 */
export function readChannelSet(req: IncomingMessage, ctx: Context, query: URLSearchParams): AdmittedSet | Promise<AdmittedSet> {
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
    let expires = Infinity;
    let identity: Identity | undefined;
    for (const channel of set.channels) {
      const grant = rights.check('subscribe', channel);
      expires = Math.min(expires, grant.expires);
      identity ??= grant.identity;
    }
    const declared = identity ? undefined : declaredName(req.headers[HEADER.name], query);
    return { ...set, expires, from: fromOf(identity, declared) };
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

/** A poll over a set: its subscriber is listed on each channel until this poll's timeout and a grace, unless the next renews it. */
export function touchPresence(ctx: Context, set: AdmittedSet): void {
  const { from } = set;
  if (!from) return;
  const until = Date.now() + ctx.options.pollTimeoutMs + presenceGrace(ctx.options.pollTimeoutMs);
  for (const channel of set.channels) ctx.presence.touch(channel, from, until);
}
