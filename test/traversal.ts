import { fileURLToPath } from 'node:url';
import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { rawExchange } from './fixtures/http.js';

// Served from test/fixtures/public: one level up is test/fixtures, two up is test/.
const FIXTURE = fileURLToPath(new URL('./fixtures/public', import.meta.url));

/** Request targets that try to leave the public folder, sent byte for byte. */
const ATTEMPTS = [
  '/../server.ts',
  '/../../traversal.ts',
  '/../../../package.json',
  '/%2e%2e/server.ts',
  '/%2E%2E/%2E%2E/package.json',
  '/%2e%2e%2fserver.ts',
  '/js/..%2f..%2fserver.ts',
  '/js/%2e%2e/%2e%2e/server.ts',
  '/..%5cserver.ts',
  '/..\\server.ts',
  '/%252e%252e/server.ts',
  '/.%2e/server.ts',
  '/index.html%00.css',
  '/%00',
  '/%',
  '/%zz',
  '//etc/passwd',
  '/etc/passwd',
  '/%2fetc%2fpasswd',
  `/${encodeURIComponent(FIXTURE)}/index.html`,
  'http://127.0.0.1/../../../package.json',
  'file:///etc/passwd',
  '../package.json',
  '*',
];

t.test('no request target reaches a file outside public/', async (t) => {
  const { origin } = await forkServer(t, ['--public', FIXTURE]);
  for (const target of ATTEMPTS) {
    const reply = await rawExchange(origin, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.match(reply, /^HTTP\/1\.1 (400|404) /, target);
    t.notMatch(reply, /forkServer|"name": "pollcast"|root:|ATTEMPTS/, `${target} leaks nothing`);
  }
});

t.test('a raw NUL byte or a bare CR in the target is refused by the parser', async (t) => {
  const { origin } = await forkServer(t, ['--public', FIXTURE]);
  for (const target of ['/index.html\u0000', '/in\rdex.html']) {
    const reply = await rawExchange(origin, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
    t.match(reply, /^HTTP\/1\.1 400 [^]*malformed HTTP request\n$/, JSON.stringify(target));
  }
  const after = await rawExchange(origin, 'GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(after, /^HTTP\/1\.1 200 /, 'and the server carries on');
});

t.test('malformed HTTP gets a status and a one-line reason', async (t) => {
  const { origin } = await forkServer(t, ['--public', FIXTURE]);
  const overflow = await rawExchange(origin, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(overflow, /^HTTP\/1\.1 431 [^]*\r\n\r\nrequest headers are too large\n$/);
  t.match(overflow, /\r\npollcast-error: headers_too_large\r\n/i, 'with its stable code');
  t.match(overflow, /\r\nx-content-type-options: nosniff\r\n/i);
  const garbage = await rawExchange(origin, 'HELLO THERE\r\n\r\n');
  t.match(garbage, /^HTTP\/1\.1 400 [^]*\r\n\r\nmalformed HTTP request\n$/);
  t.match(garbage, /\r\npollcast-error: malformed_request\r\n/i, 'with its stable code');
  t.match(garbage, /\r\nconnection: close\r\n/i);
});

t.test('CONNECT is refused with 405, an empty Allow and its stable code', async (t) => {
  const { origin } = await forkServer(t, ['--public', FIXTURE]);
  const reply = await rawExchange(origin, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
  t.match(reply, /^HTTP\/1\.1 405 [^]*\r\n\r\npollcast is not a proxy: CONNECT is not supported\n$/);
  t.match(reply, /\r\nallow: \r\n/i);
  t.match(reply, /\r\npollcast-error: method_not_allowed\r\n/i);
  t.match(reply, /\r\nx-content-type-options: nosniff\r\n/i);
});
