import type { IncomingMessage } from 'node:http';

/**
 * The key per-client limits count against: the peer's IPv4 address, or the
 * /64 network of an IPv6 one, since one host is routinely given a whole /64
 * and could otherwise spread itself over endless addresses.
 */
export function clientKey(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  // Node gives a valid address or none: a colon is all it takes to tell IPv6.
  if (!address.includes(':')) return address;
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('%')[0]!.split('::') as [string, string?];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
}
