import type { IncomingMessage, ServerResponse } from 'node:http';
import { readText } from '../body.js';
import type { Context } from '../context.js';
import { wantsJson } from '../negotiate.js';
import { HEADER } from '../protocol.js';
import type { Published } from '../protocol.js';

/**
 * `POST /publish[/CHANNEL]`: the body is the message. Answers the new id as
 * text (for curl) or as `{"id", "time"}` JSON.
 */
export async function publish(req: IncomingMessage, res: ServerResponse, ctx: Context, channel: string): Promise<void> {
  const text = await readText(req, ctx.options.maxBodyBytes);
  const message = await ctx.hub.publish(channel, text);
  const published: Published = { id: message.id, time: message.time };
  const json = wantsJson(req);
  const body = json ? JSON.stringify(published) : `${message.id}\n`;
  res.writeHead(200, {
    'content-type': json ? 'application/json' : 'text/plain;charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    [HEADER.id]: message.id,
    [HEADER.time]: message.time,
  });
  res.end(body);
}
