import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';
import type { Identity } from './identity.js';
import { JwtVerifier, TokenRejected } from './jwt.js';
import type { Claims, JwtSettings, JwtStats } from './jwt.js';

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;
/** The cookie a same-site page may carry its token in (set it `SameSite=Strict`). */
export const TOKEN_COOKIE = 'pollcast_token';
const COOKIE = new RegExp(`(?:^|;\\s*)${TOKEN_COOKIE}=([^;\\s]+)`);
/** Three base64url parts: anything else is not a JWT, and is not handed to the verifier. */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** What a right is for. */
export type Action = 'subscribe' | 'publish';

/** A right held: who holds it (from a verified token) and until when (ms since the epoch, `Infinity` for ever). */
export interface Grant {
  readonly identity: Identity | undefined;
  readonly expires: number;
}

/** What the tokens a client presents let it do, channel by channel. */
export interface Rights {
  /** The grant for `action` on `channel`; throws 401 (no valid token) or 403 (a valid one without this right). */
  check(action: Action, channel: string): Grant;
  /** Whether `action` on `channel` is granted. */
  may(action: Action, channel: string): boolean;
  /** The identity of the first verified token, whatever it grants. */
  readonly identity: Identity | undefined;
}

/** Where rights come from: the static tokens and the JWT keys of the options. */
export interface AuthSettings extends JwtSettings {
  readonly subscribeToken: string;
  readonly publishToken: string;
}

/**
 * Every token a request presents: its `Authorization: Bearer` token, the
 * `pollcast_token` cookie and, when `query` is given, each `access_token`
 * parameter (RFC 6750 §2.3, for clients that cannot set headers:
 * EventSource, a browser's WebSocket). Each one grants its own rights, so one
 * connection can carry several.
 */
export function presentedTokens(req: IncomingMessage, query?: URLSearchParams): string[] {
  const bearer = BEARER.exec(req.headers.authorization ?? '')?.[1];
  const cookie = req.headers.cookie === undefined ? undefined : COOKIE.exec(req.headers.cookie)?.[1];
  return [...(bearer ? [bearer] : []), ...(cookie ? [cookie] : []), ...(query?.getAll('access_token') ?? [])];
}

/**
 * Whether any of the tokens given is `token`, each compared in constant
 * time; with no token configured, everything passes.
 */
export function tokenMatch(token: string): (tokens: readonly string[]) => boolean {
  if (token === '') return () => true;
  const expected = digest(token);
  return (tokens) => tokens.some((given) => given !== '' && timingSafeEqual(digest(given), expected));
}

const MISSING = new HttpError('unauthorized', 'a valid bearer token is required', { 'www-authenticate': 'Bearer realm="pollcast"' });

/** What guards the counters (`/stats`, `/metrics`): the settings it is derived from. */
export interface AdminSettings {
  readonly adminToken: string;
  readonly adminPort: number;
  readonly subscribeToken: string;
  /** Whether signed tokens are checked (a JWT secret or public key is set). */
  readonly jwt: boolean;
}

/**
 * Who may read the counters, which tell who listens where: the admin token
 * when one is set; else everyone on the admin port (it serves them alone);
 * else whoever holds the static subscribe token; a server open to all stays
 * open. With signed tokens only, no token names an operator: the counters
 * need `--admin-token` or `--admin-port`.
 */
export function adminCheck(settings: AdminSettings): (req: IncomingMessage, query: URLSearchParams) => void {
  const token = settings.adminToken || (settings.adminPort !== 0 ? '' : settings.subscribeToken);
  if (token === '' && settings.jwt && settings.adminPort === 0) {
    const refused = new HttpError('unauthorized', 'the counters need --admin-token or --admin-port on a server with signed tokens', {
      'www-authenticate': 'Bearer realm="pollcast"',
    });
    return () => {
      throw refused;
    };
  }
  const match = tokenMatch(token);
  return (req, query) => {
    if (!match(presentedTokens(req, query))) throw MISSING;
  };
}

/**
 * The one place where tokens become rights: the static tokens (each grants
 * its right on every channel), and signed tokens (JWT) whose claims grant
 * rights on the channels their patterns cover. A side with neither
 * configured is open to all.
 */
export class Authority {
  readonly #subscribeToken: (tokens: readonly string[]) => boolean;
  readonly #publishToken: (tokens: readonly string[]) => boolean;
  readonly #jwt: JwtVerifier | undefined;
  readonly #open: Readonly<Record<Action, boolean>>;

  /** Throws when a JWT key cannot be read. */
  constructor(settings: AuthSettings) {
    this.#jwt = settings.secret || settings.publicKey ? new JwtVerifier(settings) : undefined;
    const jwt = this.#jwt !== undefined;
    this.#subscribeToken = settings.subscribeToken ? tokenMatch(settings.subscribeToken) : () => false;
    this.#publishToken = settings.publishToken ? tokenMatch(settings.publishToken) : () => false;
    this.#open = { subscribe: !jwt && !settings.subscribeToken, publish: !jwt && !settings.publishToken };
  }

  /** Whether signed tokens are checked (a server with keys: names come from tokens only). */
  get verifies(): boolean {
    return this.#jwt !== undefined;
  }

  /**
   * What `tokens` grant. At once (no promise) when every token is a static
   * one or a JWT verified before: a client polling again pays no signature
   * check.
   */
  rights(tokens: readonly string[]): Rights | Promise<Rights> {
    const found: TokenRights = { subscribe: this.#open.subscribe, publish: this.#open.publish, claims: [], failure: undefined };
    if (tokens.length === 0) return new TokenRightsView(found);
    found.subscribe ||= this.#subscribeToken(tokens);
    found.publish ||= this.#publishToken(tokens);
    const jwt = this.#jwt;
    if (!jwt) return new TokenRightsView(found);
    let pending: Promise<void>[] | undefined;
    for (const token of tokens) {
      if (!JWT_SHAPE.test(token)) {
        // A static token is no failure; anything else is.
        if (!this.#subscribeToken([token]) && !this.#publishToken([token])) found.failure ??= 'token is malformed';
        continue;
      }
      const claims = jwt.cached(token);
      if (claims) found.claims.push(claims);
      else
        (pending ??= []).push(
          jwt.verify(token).then(
            (verified) => void found.claims.push(verified),
            (error: unknown) => {
              found.failure ??= error instanceof TokenRejected ? error.message : 'token is malformed';
            },
          ),
        );
    }
    return pending ? Promise.all(pending).then(() => new TokenRightsView(found)) : new TokenRightsView(found);
  }

  stats(): JwtStats | undefined {
    return this.#jwt?.stats();
  }
}

interface TokenRights {
  subscribe: boolean;
  publish: boolean;
  readonly claims: Claims[];
  failure: string | undefined;
}

class TokenRightsView implements Rights {
  readonly #found: TokenRights;

  constructor(found: TokenRights) {
    this.#found = found;
  }

  get identity(): Identity | undefined {
    return this.#found.claims.find((claims) => claims.identity)?.identity;
  }

  may(action: Action, channel: string): boolean {
    return this.#grant(action, channel) !== undefined;
  }

  check(action: Action, channel: string): Grant {
    const grant = this.#grant(action, channel);
    if (grant) return grant;
    const { claims, failure } = this.#found;
    if (claims.length > 0) throw new HttpError('forbidden', `this token does not grant ${action} on channel "${channel}"`);
    if (failure)
      throw new HttpError('invalid_token', failure, {
        'www-authenticate': `Bearer realm="pollcast", error="invalid_token", error_description="${failure.replace(/"/g, "'")}"`,
      });
    throw MISSING;
  }

  #grant(action: Action, channel: string): Grant | undefined {
    const { claims } = this.#found;
    if (this.#found[action]) return { identity: this.identity, expires: Infinity };
    let best: Claims | undefined;
    for (const candidate of claims) {
      if (!candidate[action].matches(channel)) continue;
      // A token that names someone beats one that does not; then the one that lasts longer.
      if (!best || (candidate.identity && !best.identity) || (!!candidate.identity === !!best.identity && candidate.expires > best.expires))
        best = candidate;
    }
    return best && { identity: best.identity, expires: best.expires };
  }
}

/**
 * Runs `then` with rights (or an admission made of them): at once when they
 * are known at once (the hot path), else once the tokens are verified.
 * Whatever `then` throws or rejects with comes back the same way.
 */
export function withRights<V, T>(value: V | Promise<V>, then: (value: V) => T): T | Promise<Awaited<T>> {
  if (value instanceof Promise) return value.then(then) as Promise<Awaited<T>>;
  return then(value);
}

/** Hashing first makes both sides the same length, as `timingSafeEqual` needs. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The longest delay `setTimeout` takes (a longer one fires at once). */
const MAX_DELAY = 2 ** 31 - 1;

/** What `atExpiry` gives back for a grant that never expires: one function for every connection. */
const NEVER = (): void => undefined;

/**
 * Calls `ended` when a grant expires (never for `Infinity`); returns the
 * function that cancels it. A far expiry is waited for in steps.
 */
export function atExpiry(expires: number, ended: () => void): () => void {
  if (expires === Infinity) return NEVER;
  let timer: NodeJS.Timeout;
  const wait = (): void => {
    const left = expires - Date.now();
    timer = left > MAX_DELAY ? setTimeout(wait, MAX_DELAY) : setTimeout(ended, Math.max(0, left));
  };
  wait();
  return () => clearTimeout(timer);
}
