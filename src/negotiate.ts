import type { IncomingMessage } from 'node:http';

/** True when the client asked for JSON (`Accept: application/json`); plain text otherwise. */
export function wantsJson(req: IncomingMessage): boolean {
  return req.headers.accept?.includes('application/json') === true;
}
