import type { IncomingMessage, ServerResponse } from 'node:http';
import { admit } from '../admission.js';
import type { Admitted } from '../admission.js';
import { readText } from '../body.js';
import { HttpError } from '../errors.js';
import type { Context } from '../context.js';
import { IDEMPOTENCY_KEY } from '../message-text.js';
import { wantsJson } from '../negotiate.js';
import { HEADER } from '../../protocol.js';
import type { Published } from '../../protocol.js';

/**
 * `POST /publish[/CHANNEL]`: the body is the message. Answers the new id as
 * text (for curl) or as `{"id", "time"}` JSON. The message's `from` is the
 * verified token's identity, else the `Pollcast-Name` the request declares.
 */
export async function publish(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string): Promise<void> {
  const { key, admitted } = await check(req, res, ctx, channel);
  const text = await readText(req, ctx.options.maxBodyBytes);
  const { message, repeated } = await ctx.hub.publish(channel, text, key, admitted.from);
  const published: Published = { id: message.id, time: message.time };
  const json = wantsJson(req);
  const body = json ? JSON.stringify(published) : `${message.id}\n`;
  res.writeHead(200, {
    'content-type': json ? 'application/json' : 'text/plain;charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    [HEADER.id]: message.id,
    [HEADER.time]: message.time,
    ...(repeated && { [HEADER.repeated]: 'true' }),
  });
  res.end(body);
}

/**
 * The checks made before the body is read: token, name, rate, key. A refusal
 * leaves the body unread, so the connection cannot carry another request.
 */
async function check(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Context,
  channel: string,
): Promise<{ key: string | undefined; admitted: Admitted }> {
  try {
    const admitted = await admit(ctx, req, undefined, 'publish', channel);
    const wait = ctx.publishRate.take(ctx.clientKey(req));
    if (wait > 0) {
      const seconds = String(Math.ceil(wait / 1000));
      throw new HttpError('rate_limited', `too many messages; try again in ${seconds} s`, { 'retry-after': seconds });
    }
    return { key: idempotencyKey(req), admitted };
  } catch (error) {
    res.setHeader('connection', 'close');
    throw error;
  }
}

function idempotencyKey(req: IncomingMessage): string | undefined {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new HttpError('bad_idempotency_key', 'Idempotency-Key must be 1 to 128 visible ASCII characters');
  }
  return key;
}
