import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/**
 * Which peers are proxies whose `Forwarded` / `X-Forwarded-For` headers are
 * believed: none (the default), the nearest `hops` proxies, or peers in a list
 * of addresses and networks.
 */
export type TrustProxy =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'list'; readonly list: BlockList };

const NONE: TrustProxy = { kind: 'none' };

/** Names for common sets of proxy addresses, as in Express. */
const NAMED: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * Reads `--trust-proxy`: empty for none; a whole number for that many proxy
 * hops in front of pollcast; or a comma-separated list of addresses, CIDR
 * networks and the names `loopback`, `linklocal`, `uniquelocal`.
 * Throws on anything else.
 */
export function parseTrustProxy(setting: string): TrustProxy {
  const trimmed = setting.trim();
  if (trimmed === '') return NONE;
  if (/^\d+$/.test(trimmed)) {
    const hops = Number(trimmed);
    if (hops < 1 || hops > 32) throw new RangeError('trustProxy as a hop count must be from 1 to 32');
    return { kind: 'hops', hops };
  }
  const list = new BlockList();
  for (const item of trimmed
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    for (const entry of NAMED[item] ?? [item]) addEntry(list, entry, item);
  }
  return { kind: 'list', list };
}

function addEntry(list: BlockList, entry: string, given: string): void {
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  const bits = family === 6 ? 128 : 32;
  if (family === 0 || extra !== undefined || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits))) {
    throw new TypeError(`trustProxy: "${given}" is not an address, a CIDR network, a hop count or loopback/linklocal/uniquelocal`);
  }
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (prefix === undefined) list.addAddress(address, type);
  else list.addSubnet(address, Number(prefix), type);
}

/** `::ffff:10.1.2.3` is the IPv4 address `10.1.2.3`. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function trusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The addresses a request passed through, as its proxies say, oldest first:
 * `X-Forwarded-For` when present (what nginx, HAProxy and the cloud load
 * balancers append to), else the `for=` of `Forwarded` (RFC 7239). Only the
 * header the proxy writes is safe to read: one it passes through untouched
 * is the client's own, so `X-Forwarded-For` goes first, as the common case,
 * and a proxy that writes only `Forwarded` must drop a client's
 * `X-Forwarded-For`. An entry that is not an address (`unknown`, an
 * obfuscated name, garbage) stays in the list as `''`, so that it still
 * counts as a hop.
 */
export function forwardedChain(req: IncomingMessage): string[] {
  const xff = req.headers['x-forwarded-for'];
  const joined = Array.isArray(xff) ? xff.join(',') : (xff ?? '');
  if (joined !== '') return joined.split(',').map((item) => nodeAddress(item.trim()));
  const forwarded = req.headers.forwarded;
  if (typeof forwarded !== 'string' || forwarded === '') return [];
  return forwarded.split(',').map((element) => {
    const pair = element
      .split(';')
      .map((part) => part.trim())
      .find((part) => /^for=/i.test(part));
    return pair === undefined ? '' : nodeAddress(pair.slice(4).replace(/^"|"$/g, ''));
  });
}

/** `[2001:db8::1]:4711` → `2001:db8::1`, `192.0.2.1:80` → `192.0.2.1`; `''` when it is no address. */
function nodeAddress(raw: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(raw);
  const candidate = bracketed ? bracketed[1]! : /^[\d.]+:\d+$/.test(raw) ? raw.slice(0, raw.lastIndexOf(':')) : raw;
  return isIP(candidate) === 0 ? '' : plain(candidate);
}

/**
 * The client's address: the peer's, unless the peer is a trusted proxy; then
 * the proxies' headers are read from the right end, skipping every trusted
 * hop, and the first address not trusted is the client. Left of it, anything
 * could have been written by the client itself and is never read. An entry
 * that is no address where the client's should be leaves the last proxy's.
 */
export function clientAddress(req: IncomingMessage, trust: TrustProxy = NONE): string {
  const peer = plain(req.socket.remoteAddress ?? '');
  if (trust.kind === 'none') return peer;
  const chain = [...forwardedChain(req), peer];
  if (trust.kind === 'hops') {
    const index = Math.max(0, chain.length - 1 - trust.hops);
    return pickFrom(chain, index);
  }
  let index = chain.length - 1;
  while (index > 0 && trusted(trust.list, chain[index]!)) index--;
  return pickFrom(chain, index);
}

function pickFrom(chain: readonly string[], index: number): string {
  for (let i = index; i < chain.length; i++) if (chain[i] !== '') return chain[i]!;
  return '';
}

/**
 * The key per-client limits count against: the client's IPv4 address, or the
 * /64 network of an IPv6 one, since one host is routinely given a whole /64
 * and could otherwise spread itself over endless addresses.
 */
export function clientKey(req: IncomingMessage, trust: TrustProxy = NONE): string {
  return keyOf(clientAddress(req, trust));
}

/** `clientKey` with the trust fixed once, for the routes: `ctx.clientKey(req)`. */
export function clientKeyWith(trust: TrustProxy): (req: IncomingMessage) => string {
  return trust.kind === 'none' ? (req) => keyOf(plain(req.socket.remoteAddress ?? '')) : (req) => keyOf(clientAddress(req, trust));
}

function keyOf(address: string): string {
  // A valid address or none: a colon is all it takes to tell IPv6.
  if (!address.includes(':')) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('%')[0]!.split('::') as [string, string?];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
}
