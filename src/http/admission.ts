import type { IncomingMessage } from 'node:http';
import { presentedTokens, withRights } from './auth.js';
import type { Action, Grant, Rights } from './auth.js';
import type { Context } from './context.js';
import { declaredName, fromOf } from './identity.js';
import { HEADER } from '../protocol.js';
import type { From } from '../protocol.js';

/** A request let in: the right it holds (until when), its author, and every right its tokens carry. */
export interface Admitted {
  readonly grant: Grant;
  /** The verified identity, else the declared name (`Pollcast-Name` or `?name=`); undefined when neither. */
  readonly from: From | undefined;
  readonly rights: Rights;
}

/**
 * Lets a request in for `action` on `channel`, on every transport alike:
 * the tokens it presents (header, cookie, `access_token`) must grant it
 * (401, or 403 for a valid token without that right), and a name it
 * declares must be acceptable (400 `bad_name`). At once when the tokens are
 * known (a poll coming back), else once verified.
 */
export function admit(
  ctx: Context,
  req: IncomingMessage,
  query: URLSearchParams | undefined,
  action: Action,
  channel: string,
): Admitted | Promise<Admitted> {
  return withRights(ctx.rights(presentedTokens(req, query)), (rights) => {
    const grant = rights.check(action, channel);
    const declared = grant.identity ? undefined : declaredName(req.headers[HEADER.name], query);
    return { grant, from: fromOf(grant.identity, declared), rights };
  });
}
