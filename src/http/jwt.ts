/**
 * Signed tokens (JWT), verified with `jose`: the keys and the algorithms
 * each one may sign with (pinned: `none` never, HS256 only with the shared
 * secret, the public key only with the algorithm of its type), the claims
 * pollcast reads, and a bounded cache of verified tokens, so that a client
 * polling again does not pay for a signature check each time.
 */
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createLocalJWKSet, errors, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTHeaderParameters, JWTPayload } from 'jose';
import { compilePatterns } from './channel-patterns.js';
import type { ChannelPatterns } from './channel-patterns.js';
import { isName, MAX_ID, MAX_NAME } from './identity.js';
import type { Identity } from './identity.js';

/** What a verified token says: who, which channels for each right, and until when. */
export interface Claims {
  /** From `sub` (and `name`, else `sub`); absent when the token has no `sub`. */
  readonly identity: Identity | undefined;
  readonly subscribe: ChannelPatterns;
  readonly publish: ChannelPatterns;
  /** `exp` in ms since the epoch; `Infinity` when the token has none. */
  readonly expires: number;
}

/** How tokens are checked. */
export interface JwtSettings {
  /** HS256 shared secret; '' for none. */
  readonly secret: string;
  /** A public key (PEM, SPKI) or a key set (JWKS JSON); '' for none. */
  readonly publicKey: string;
  /** The `iss` required; '' for any. */
  readonly issuer: string;
  /** The `aud` required; '' for any. */
  readonly audience: string;
}

/** A token refused: the one-line reason goes back to the client. */
export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
}

/** Verified tokens kept at once. */
const CACHE_ENTRIES = 10_000;
/** Characters of token text kept in the cache at once (with the entries, this bounds it). */
const CACHE_CHARS = 8 * 1024 * 1024;
/** A token longer than this is refused unread. */
export const MAX_TOKEN = 8 * 1024;
/** Clock skew tolerated between the token's issuer and this server for `nbf`, in seconds (`exp` is exact: see `verify`). */
const CLOCK_TOLERANCE_S = 5;

/** The algorithm a public key of each type signs with. */
const ALGORITHM_OF: Record<string, string> = { rsa: 'RS256', ec: 'ES256', ed25519: 'EdDSA' };

type KeyFor = (header: JWTHeaderParameters) => ReturnType<ReturnType<typeof createLocalJWKSet>> | KeyObject | Uint8Array;

/** Counters, for `/stats`. */
export interface JwtStats {
  /** Tokens in the cache now. */
  readonly cached: number;
  /** Signature checks made (cache misses). */
  readonly verified: number;
  /** Tokens refused. */
  readonly rejected: number;
}

/**
 * Checks tokens against the keys configured. `cached()` answers at once for
 * a token verified before (the hot path); `verify()` does the work.
 */
export class JwtVerifier {
  readonly #keyFor: KeyFor;
  readonly #algorithms: string[];
  readonly #issuer: string | undefined;
  readonly #audience: string | undefined;
  readonly #cache = new Map<string, Claims>();
  #chars = 0;
  #verified = 0;
  #rejected = 0;

  /** Throws at once when a key cannot be read. */
  constructor(settings: JwtSettings) {
    const { secret, publicKey } = settings;
    const algorithms: string[] = [];
    const secretKey = secret ? new TextEncoder().encode(secret) : undefined;
    if (secretKey) algorithms.push('HS256');
    let publicKeyFor: KeyFor | undefined;
    if (publicKey) {
      const text = publicKey.trim();
      if (text.startsWith('{')) {
        let jwks: JSONWebKeySet;
        try {
          jwks = JSON.parse(text) as JSONWebKeySet;
        } catch {
          throw new TypeError('jwtPublicKey is neither a PEM public key nor a JWKS');
        }
        const set = createLocalJWKSet(jwks);
        algorithms.push('RS256', 'ES256', 'EdDSA');
        publicKeyFor = (header) => set(header);
      } else {
        let key: KeyObject;
        try {
          key = createPublicKey(text);
        } catch (error) {
          throw new TypeError(`jwtPublicKey is not a public key: ${(error as Error).message}`);
        }
        const algorithm = ALGORITHM_OF[key.asymmetricKeyType ?? ''];
        if (!algorithm || (algorithm === 'ES256' && key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')) {
          throw new TypeError('jwtPublicKey must be an RSA, P-256 or Ed25519 key');
        }
        algorithms.push(algorithm);
        publicKeyFor = () => key;
      }
    }
    if (algorithms.length === 0) throw new TypeError('a JWT secret or public key is needed');
    this.#algorithms = algorithms;
    // HS256 is checked with the secret only: a token "signed" with the public key as an HMAC secret fails.
    this.#keyFor = (header) => {
      if (header.alg === 'HS256' && secretKey) return secretKey;
      if (publicKeyFor) return publicKeyFor(header);
      return secretKey!;
    };
    this.#issuer = settings.issuer || undefined;
    this.#audience = settings.audience || undefined;
  }

  /** The claims of a token verified before and not expired since; undefined when it has to be verified. */
  cached(token: string): Claims | undefined {
    const claims = this.#cache.get(token);
    if (claims === undefined) return undefined;
    if (claims.expires <= Date.now()) {
      this.#forget(token);
      return undefined;
    }
    return claims;
  }

  /** Verifies a token and caches it; rejects with `TokenRejected` and the reason. */
  async verify(token: string): Promise<Claims> {
    this.#verified++;
    try {
      if (token.length > MAX_TOKEN) throw new TokenRejected(`token is longer than ${MAX_TOKEN} characters`);
      const { payload } = await jwtVerify(token, this.#keyFor, {
        algorithms: this.#algorithms,
        issuer: this.#issuer,
        audience: this.#audience,
        clockTolerance: CLOCK_TOLERANCE_S,
      });
      const claims = readClaims(payload);
      // The skew allowance is for `nbf`: a connection ends at `exp` by this clock, so a token past it is refused by it too.
      if (claims.expires <= Date.now()) throw new TokenRejected('token expired');
      this.#remember(token, claims);
      return claims;
    } catch (error) {
      this.#rejected++;
      throw error instanceof TokenRejected ? error : new TokenRejected(reasonOf(error));
    }
  }

  stats(): JwtStats {
    return { cached: this.#cache.size, verified: this.#verified, rejected: this.#rejected };
  }

  #remember(token: string, claims: Claims): void {
    this.#cache.set(token, claims);
    this.#chars += token.length;
    while (this.#cache.size > CACHE_ENTRIES || this.#chars > CACHE_CHARS) this.#forget(this.#cache.keys().next().value!);
  }

  #forget(token: string): void {
    if (this.#cache.delete(token)) this.#chars -= token.length;
  }
}

/** pollcast's claims of a verified payload; `TokenRejected` when they are malformed. */
function readClaims(payload: JWTPayload): Claims {
  const { sub, name, pollcast, exp } = payload;
  if (sub !== undefined && (typeof sub !== 'string' || !isName(sub, MAX_ID)))
    throw new TokenRejected('token "sub" must be 1 to 128 characters');
  if (name !== undefined && (typeof name !== 'string' || !isName(name)))
    throw new TokenRejected(`token "name" must be 1 to ${MAX_NAME} characters, without control characters`);
  const rights = (typeof pollcast === 'object' && pollcast !== null ? pollcast : {}) as Record<string, unknown>;
  const subscribe = compilePatterns(rights.subscribe);
  const publish = compilePatterns(rights.publish);
  if (!subscribe || !publish)
    throw new TokenRejected('token "pollcast" claim must hold "subscribe" and "publish" lists of channel patterns');
  return {
    identity: sub === undefined ? undefined : { id: sub, name: (name as string | undefined) ?? sub },
    subscribe,
    publish,
    expires: typeof exp === 'number' ? exp * 1000 : Infinity,
  };
}

/** A one-line reason for what jose refused; never the token itself. */
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'token is not valid yet';
    if (error.claim === 'iss') return 'token issuer is not accepted';
    if (error.claim === 'aud') return 'token audience is not accepted';
    return `token claim "${error.claim}" is invalid`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not accepted';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (error instanceof errors.JWKSNoMatchingKey) return 'token key is not known';
  return 'token is malformed';
}
