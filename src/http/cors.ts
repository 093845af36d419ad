import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './errors.js';
import { HEADER } from '../protocol.js';

const EXPOSED = [...Object.values(HEADER), 'pollcast-error', 'retry-after'].join(', ');
const ALLOWED_HEADERS = 'accept, authorization, content-type, idempotency-key, pollcast-name';
const DENIED = new HttpError('origin_not_allowed', 'this origin may not call the API');

/** Cross-origin access to the API, for the origins listed; off when the list is empty. */
export interface Cors {
  readonly enabled: boolean;
  /** Adds the CORS headers to an API answer when the request's origin is allowed. */
  allow(req: IncomingMessage, res: ServerResponse): void;
  /** Answers a preflight (`OPTIONS`) for an endpoint accepting `methods`; throws 403 for other origins. */
  preflight(req: IncomingMessage, res: ServerResponse, methods: string): void;
}

export function createCors(origins: readonly string[]): Cors {
  const any = origins.includes('*');
  const listed = new Set(origins);
  const allowed = (origin: string | undefined): origin is string => origin !== undefined && (any || listed.has(origin));

  return {
    enabled: origins.length > 0,
    allow(req, res) {
      res.setHeader('vary', 'origin');
      const origin = req.headers.origin;
      if (!allowed(origin)) return;
      res.setHeader('access-control-allow-origin', any ? '*' : origin);
      res.setHeader('access-control-expose-headers', EXPOSED);
    },
    preflight(req, res, methods) {
      // A refusal varies by origin as much as an approval does: a cache must not hand either to the other origins.
      res.setHeader('vary', 'origin');
      if (!allowed(req.headers.origin)) throw DENIED;
      this.allow(req, res);
      res.writeHead(204, {
        'access-control-allow-methods': methods,
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': '600',
      });
      res.end();
    },
  };
}
