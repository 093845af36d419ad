import { connect } from 'node:net';
import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { poll, rawExchange, request } from './fixtures/http.js';

/**
 * HTTP as clients put it on the wire: upgrade offers to ignore, methods and
 * headers to refuse, and requests that go wrong after their headers.
 */

/** What Java's HttpClient and `curl --http2` add to a cleartext request. */
const H2C = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `parts` to a fresh socket `gapMs` apart; resolves with all the server sent until it closed. */
function trickle(origin: string, parts: readonly string[], gapMs: number, waitMs = 5_000): Promise<string> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let reply = '';
    let stopped = false;
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      stopped = true;
      clearTimeout(timer);
      resolve(reply);
    });
    void (async () => {
      for (const part of parts) {
        if (stopped) return;
        socket.write(part);
        await sleep(gapMs);
      }
    })();
  });
}

t.test('an h2c upgrade offer is ignored: the request is served as HTTP/1.1', async (t) => {
  const { origin } = await forkServer(t);

  t.test('on every path', async (t) => {
    const stats = await rawExchange(origin, `GET /stats HTTP/1.1\r\nHost: x\r\n${H2C}\r\n`, 1_000);
    t.match(stats, /^HTTP\/1\.1 200 [^]*\r\n\r\n\{"waiting":/);
    t.notMatch(stats, /^HTTP\/1\.1 101/m, 'no switch of protocols');
    const page = await rawExchange(origin, `GET / HTTP/1.1\r\nHost: x\r\n${H2C}Connection: close\r\n\r\n`);
    t.match(page, /^HTTP\/1\.1 200 [^]*<form/);
    const empty = await rawExchange(origin, `GET /subscribe/h2c?since=0 HTTP/1.1\r\nHost: x\r\n${H2C}\r\n`, 1_000);
    t.match(empty, /^HTTP\/1\.1 204 /);
  });

  t.test('with a body, and with requests after it on the same connection', async (t) => {
    const body = 'sent with an h2c offer';
    const reply = await rawExchange(
      origin,
      `POST /publish/h2c HTTP/1.1\r\nHost: x\r\n${H2C}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
        `GET /messages/h2c?since=0 HTTP/1.1\r\nHost: x\r\n${H2C}Connection: close\r\n\r\n`,
    );
    const answers = reply.split(/(?=HTTP\/1\.1 )/);
    t.equal(answers.length, 2, 'two answers');
    t.match(answers[0], /^HTTP\/1\.1 200 /);
    t.match(answers[1], /^HTTP\/1\.1 200 [^]*"text":"sent with an h2c offer"/);
    const stored = JSON.parse((await poll(origin, '0', 'h2c')).body) as { messages: { text: string }[] };
    t.same(
      stored.messages.map((m) => m.text),
      [body],
      'stored once',
    );
  });

  t.test('two hundred offers pipelined in one write get two hundred answers', async (t) => {
    const one = `GET /stats HTTP/1.1\r\nHost: x\r\n${H2C}\r\n`;
    const reply = await rawExchange(origin, one.repeat(199) + `GET /stats HTTP/1.1\r\nHost: x\r\n${H2C}Connection: close\r\n\r\n`, 10_000);
    t.equal(reply.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 200);
  });

  t.test('a websocket upgrade anywhere but /ws is an ordinary request too', async (t) => {
    const reply = await rawExchange(
      origin,
      'GET /subscribe/elsewhere?since=0 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nConnection: close\r\n\r\n',
    );
    t.match(reply, /^HTTP\/1\.1 204 /);
  });
});

t.test('CONNECT gets 405 with a one-line reason, and the server carries on', async (t) => {
  const { origin } = await forkServer(t);
  const reply = await rawExchange(origin, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  t.match(reply, /^HTTP\/1\.1 405 /);
  t.match(reply, /\r\nallow: \r\n/i, 'an empty Allow: nothing is allowed on an authority');
  t.match(reply, /\r\npollcast-error: method_not_allowed\r\n/);
  t.match(reply, /\r\n\r\npollcast is not a proxy: CONNECT is not supported\n$/);
  t.equal((await request(origin, '/stats')).status, 200);
});

t.test('two Host headers are refused with 400', async (t) => {
  const { origin } = await forkServer(t);
  for (const path of ['/', '/stats', '/subscribe?since=0']) {
    const reply = await rawExchange(origin, `GET ${path} HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n`);
    t.match(reply, /^HTTP\/1\.1 400 [^]*\r\n\r\nmore than one Host header\n$/, path);
  }
  const upgrade = await rawExchange(
    origin,
    'GET /ws HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  t.match(upgrade, /^HTTP\/1\.1 400 [^]*more than one Host header/, 'a WebSocket upgrade as well');
  t.match(await rawExchange(origin, 'GET /stats HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
});

t.test('a body that goes wrong after the headers gets its status, not a bare close', async (t) => {
  const { origin } = await forkServer(t, ['--headers-timeout', '500', '--request-timeout', '1000']);

  t.test('a bad chunk size is 400', async (t) => {
    const reply = await rawExchange(
      origin,
      'POST /publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
    );
    t.match(reply, /^HTTP\/1\.1 400 [^]*connection: close[^]*\r\n\r\nmalformed HTTP request\n$/i);
  });

  t.test('a Transfer-Encoding other than chunked is 400', async (t) => {
    const reply = await rawExchange(
      origin,
      'POST /publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    t.match(reply, /^HTTP\/1\.1 400 [^]*\r\n\r\nmalformed HTTP request\n$/);
  });

  t.test('a body trickled past --request-timeout is 408', async (t) => {
    const parts = ['POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n', ...'abcdefghijklmnop'];
    const reply = await trickle(origin, parts, 200);
    t.match(reply, /^HTTP\/1\.1 408 [^]*\r\n\r\nrequest took too long to arrive\n$/);
  });

  t.test('nothing of those bodies was published', async (t) => {
    t.equal((await poll(origin, '0')).status, 200);
    t.same((JSON.parse((await poll(origin, '0')).body) as { messages: unknown[] }).messages, []);
  });
});
