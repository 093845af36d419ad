import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { clientKey } from '../src/client-address.js';

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
