import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { clientKey } from '../src/http/peer-address.js';

const from = (remoteAddress: string | undefined) => ({ socket: { remoteAddress } }) as unknown as IncomingMessage;

t.test('IPv4 addresses count one by one, IPv4-mapped ones as IPv4', async (t) => {
  t.equal(clientKey(from('127.0.0.1')), '127.0.0.1');
  t.equal(clientKey(from('::ffff:10.1.2.3')), '10.1.2.3');
});

t.test('IPv6 addresses count by their /64', async (t) => {
  t.equal(clientKey(from('2001:db8:1:2:aaaa::1')), '2001:db8:1:2::/64');
  t.equal(clientKey(from('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')), '2001:db8:1:2::/64');
  t.equal(clientKey(from('2001:db8::1')), '2001:db8:0:0::/64');
  t.equal(clientKey(from('::1')), '0:0:0:0::/64');
  t.equal(clientKey(from('fe80::1%eth0')), 'fe80:0:0:0::/64');
});

t.test('a socket without an address still has a key', async (t) => {
  t.equal(clientKey(from(undefined)), '');
});

import { clientAddress, forwardedChain, parseTrustProxy } from '../src/http/peer-address.js';

const via = (remoteAddress: string, headers: Record<string, string>) =>
  ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;

t.test('without --trust-proxy, Forwarded and X-Forwarded-For are ignored', async (t) => {
  const req = via('203.0.113.9', { 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.2' });
  t.equal(clientAddress(req), '203.0.113.9');
  t.equal(clientAddress(req, parseTrustProxy('')), '203.0.113.9');
  t.equal(clientKey(req, parseTrustProxy('')), '203.0.113.9');
});

t.test(
  'from a trusted proxy, the rightmost untrusted address is the client; what the client wrote to its left is never read',
  async (t) => {
    const trust = parseTrustProxy('127.0.0.1, 10.0.0.0/8');
    t.equal(clientAddress(via('127.0.0.1', { 'x-forwarded-for': '198.51.100.7' }), trust), '198.51.100.7');
    t.equal(
      clientAddress(via('::ffff:127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.1.1.1' }), trust),
      '198.51.100.7',
      'spoofed left entry skipped',
    );
    t.equal(clientAddress(via('127.0.0.1', { 'x-forwarded-for': '10.0.0.2, 10.0.0.3' }), trust), '10.0.0.2', 'all trusted: the leftmost');
    t.equal(
      clientAddress(via('203.0.113.9', { 'x-forwarded-for': '198.51.100.7' }), trust),
      '203.0.113.9',
      'a peer that is no trusted proxy is the client',
    );
    t.equal(clientAddress(via('127.0.0.1', {}), trust), '127.0.0.1', 'no header: the proxy itself');
  },
);

t.test('Forwarded (RFC 7239) is read when there is no X-Forwarded-For, with quotes, brackets and ports', async (t) => {
  const trust = parseTrustProxy('loopback');
  const req = via('127.0.0.1', { forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"' });
  t.same(forwardedChain(req), ['192.0.2.60', '2001:db8:cafe::17']);
  t.equal(clientAddress(req, trust), '2001:db8:cafe::17');
  t.equal(clientKey(req, trust), '2001:db8:cafe:0::/64');
});

t.test('a Forwarded header the client sent itself, passed through by a proxy that appends to X-Forwarded-For, picks nothing', async (t) => {
  const req = via('127.0.0.1', { forwarded: 'for=6.6.6.6', 'x-forwarded-for': '198.51.100.7' });
  t.equal(clientAddress(req, parseTrustProxy('loopback')), '198.51.100.7');
});

t.test('a hop count trusts that many proxies from the right', async (t) => {
  const req = via('10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.9' });
  t.equal(clientAddress(req, parseTrustProxy('1')), '10.0.0.9');
  t.equal(clientAddress(req, parseTrustProxy('2')), '198.51.100.7');
  t.equal(
    clientAddress(via('10.0.0.1', { 'x-forwarded-for': '198.51.100.7' }), parseTrustProxy('5')),
    '198.51.100.7',
    'fewer hops than trusted: the leftmost',
  );
});

t.test('garbage where the client address should be leaves the last proxy as the client', async (t) => {
  const trust = parseTrustProxy('loopback');
  t.equal(clientAddress(via('127.0.0.1', { 'x-forwarded-for': 'unknown' }), trust), '127.0.0.1');
  t.equal(clientAddress(via('127.0.0.1', { forwarded: 'for=_hidden' }), trust), '127.0.0.1');
  t.equal(clientAddress(via('127.0.0.1', { 'x-forwarded-for': '198.51.100.7:5555' }), trust), '198.51.100.7');
});

t.test('bad --trust-proxy settings are refused', async (t) => {
  for (const bad of ['10.0.0.0/33', 'example.com', '0', '1.2.3.4/8/9', '::1/129'])
    t.throws(() => parseTrustProxy(bad), JSON.stringify(bad));
  t.doesNotThrow(() => parseTrustProxy('loopback,uniquelocal,linklocal, fd00::/8'));
});
