/**
 * The page's `Content-Security-Policy`: which policy a folder gets, and the
 * header value for a request's `Host`. Pure, so every case is tested alone.
 */

/**
 * `strict`: scripts, styles and requests from this origin only (pollcast's own page).
 * `page`: the same, plus inline `<script>` and `style` (a hand-written page such as the
 * classic demo's `index.html`). `off`: no header at all. Anything else with a space is a
 * complete policy of your own, sent as given.
 */
export type CspSetting = 'strict' | 'page' | 'off' | (string & {});

const COMMON_TAIL = ["object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"].join('; ');
const STRICT_HEAD = ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'"].join(
  '; ',
);
const PAGE_HEAD = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
].join('; ');

/**
 * A host-source as CSP's grammar allows it (`host-char` labels and a port).
 * IPv6 literals are not in that grammar (Chromium rejects `ws://[::1]:8080`
 * as an invalid source), and neither is anything with a `;`, a space or a quote.
 */
const HOST_SOURCE = /^(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(?::[0-9]{1,5})?$/;

/** Throws when `setting` is neither a known name nor a plausible policy. */
export function checkCsp(setting: string): void {
  if (setting === 'strict' || setting === 'page' || setting === 'off') return;
  // A policy of one's own: directives need a space; CR/LF would split the header.
  if (!/^[\x20-\x7e]+$/.test(setting) || !setting.includes(' ')) {
    throw new TypeError('csp must be strict, page, off, or a whole policy such as "default-src \'self\'"');
  }
}

/** The setting a folder gets when none is given: `strict` for pollcast's own page, `page` for any other folder. */
export function defaultCsp(publicDir: string, ownDir: string): CspSetting {
  return publicDir === ownDir ? 'strict' : 'page';
}

/**
 * The header value for a request with this `Host`, or `undefined` for none.
 * `'self'` covers `ws:`/`wss:` to the same host in CSP 3, but not in every
 * browser still about, so a plain host is also named outright; a host that
 * is not a valid host-source (an IPv6 literal, garbage) gets `'self'` alone.
 */
export function contentSecurityPolicy(setting: CspSetting, host: string | undefined): string | undefined {
  if (setting === 'off') return undefined;
  if (setting !== 'strict' && setting !== 'page') return setting;
  const head = setting === 'strict' ? STRICT_HEAD : PAGE_HEAD;
  const sockets = host !== undefined && HOST_SOURCE.test(host) ? ` ws://${host} wss://${host}` : '';
  return `${head}${sockets}; ${COMMON_TAIL}`;
}
