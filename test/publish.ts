import { request as httpRequest } from 'node:http';
import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { poll, rawExchange, request, waitForWaiting } from './fixtures/http.js';

t.test('POST /publish', async (t) => {
  const server = await forkServer(t, ['--max-body', '1024']);
  const { origin } = server;

  t.test('answers the new id as text, and as JSON when asked', async (t) => {
    const text = await request(origin, '/publish', { method: 'POST', body: 'hello' });
    t.equal(text.status, 200);
    t.match(text.headers['content-type'], /^text\/plain/);
    t.equal(text.body, `${text.headers['pollcast-id']}\n`);
    t.match(text.headers['pollcast-time'], /^\d+$/);

    const json = await request(origin, '/publish/room', { method: 'POST', body: 'hi', headers: { accept: 'application/json' } });
    t.equal(json.status, 200);
    t.equal(json.headers['content-type'], 'application/json');
    const published = JSON.parse(json.body) as { id: string; time: number };
    t.equal(published.id, json.headers['pollcast-id']);
    t.type(published.time, 'number');
    t.not(published.id, text.headers['pollcast-id'], 'every message has its own id');
  });

  t.test('stores the exact UTF-8 text', async (t) => {
    const text = 'ünïcødé 😀\nsecond line\r\n\ttabbed';
    await request(origin, '/publish/utf', { method: 'POST', body: text });
    const answer = await poll(origin, '0', 'utf');
    t.equal((JSON.parse(answer.body) as { messages: { text: string }[] }).messages[0]!.text, text);
  });

  t.test('refuses an empty body with 400', async (t) => {
    const answer = await request(origin, '/publish', { method: 'POST', body: '' });
    t.equal(answer.status, 400);
    t.equal(answer.headers['pollcast-error'], 'empty_body');
    t.equal(answer.body, 'message body is empty\n');
  });

  t.test('refuses invalid UTF-8 with 400', async (t) => {
    for (const bytes of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0x61, 0xe2, 0x82]]) {
      const answer = await request(origin, '/publish', { method: 'POST', body: Buffer.from(bytes) });
      t.equal(answer.status, 400, bytes.join(' '));
      t.equal(answer.headers['pollcast-error'], 'bad_utf8');
    }
  });

  t.test('refuses another declared charset with 415', async (t) => {
    const answer = await request(origin, '/publish', {
      method: 'POST',
      body: 'caf\xe9',
      headers: { 'content-type': 'text/plain; charset=ISO-8859-1' },
    });
    t.equal(answer.status, 415);
    t.match(answer.body, /charset iso-8859-1 is not supported/);
  });

  t.test('reads the charset from the Content-Type parameters, quoted strings and all', async (t) => {
    const send = (contentType: string) =>
      request(origin, '/publish/params', { method: 'POST', body: 'x', headers: { 'content-type': contentType } });
    for (const refused of [
      'text/plain; foo="a;charset=utf-8"; charset=latin1',
      'text/plain; charset="latin1"',
      'text/plain; charset=utf-8; charset=latin1',
      'text/plain; foo="a\\";charset=utf-8"; charset=utf-16',
    ]) {
      const answer = await send(refused);
      t.equal(answer.status, 415, refused);
      t.equal(answer.headers['pollcast-error'], 'unsupported_charset');
    }
    t.match(
      (await send('text/plain; charset="<b>"')).body,
      /^the declared charset is not supported; send UTF-8\n$/,
      'a charset that is not a token is not echoed',
    );
    for (const accepted of [
      'text/plain; foo="x;charset=latin1"; charset=utf-8',
      'text/plain; charset="UTF-8"',
      'TEXT/PLAIN;CHARSET=UTF-8',
      'text/plain;',
      'text/plain ; format=flowed ;charset=us-ascii',
      'application/octet-stream',
    ]) {
      t.equal((await send(accepted)).status, 200, accepted);
    }
    for (const malformed of ['text/plain; charset="utf-8', 'text/plain; =utf-8', 'text/plain; charset', 'text/plain; charset=utf 8']) {
      const answer = await send(malformed);
      t.equal(answer.status, 400, malformed);
      t.equal(answer.headers['pollcast-error'], 'bad_request');
      t.equal(answer.body, 'Content-Type parameters are malformed\n');
    }
  });

  t.test('a body of exactly the limit is accepted', async (t) => {
    const answer = await request(origin, '/publish', { method: 'POST', body: 'x'.repeat(1024) });
    t.equal(answer.status, 200);
  });

  t.test('refuses a declared length over the limit with 413 before reading it', async (t) => {
    // Headers only: if the server waited for the body, this would hang until the raw timeout.
    const reply = await rawExchange(origin, 'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n');
    t.match(reply, /^HTTP\/1\.1 413 /);
    t.match(reply, /connection: close/i);
    t.match(reply, /message body is larger than 1024 bytes/);
  });

  t.test('refuses a chunked body as soon as it crosses the limit', async (t) => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/publish', method: 'POST', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      // Chunked, never ended: only the limit can produce an answer.
      req.write('y'.repeat(800));
      req.write('y'.repeat(800));
    });
    t.equal(answer.status, 413);
    const history = await poll(origin, '0');
    t.notMatch(history.body, /yyyy/, 'nothing of it was published');
  });

  t.test('other methods get 405 with Allow', async (t) => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const answer = await request(origin, '/publish/room', { method });
      t.equal(answer.status, 405, method);
      t.equal(answer.headers.allow, 'POST');
      t.match(answer.body, new RegExp(`^method ${method} is not allowed here; use POST\\n$`));
    }
  });

  t.test('bad channel names get 400', async (t) => {
    for (const path of ['/publish/', '/publish/a%20b', '/publish/a/b', `/publish/${'x'.repeat(65)}`, '/publish/%2e%2e']) {
      const answer = await request(origin, path, { method: 'POST', body: 'x' });
      t.equal(answer.status, 400, path);
      t.equal(answer.headers['pollcast-error'], 'bad_channel');
    }
  });

  t.test('a retry with the same Idempotency-Key is answered with the first id, not published twice', async (t) => {
    const headers = { 'idempotency-key': 'a1b2c3-retry', accept: 'application/json' };
    const waiting = request(origin, '/subscribe/idem');
    await waitForWaiting(origin, 1);
    const first = await request(origin, '/publish/idem', { method: 'POST', body: 'only once', headers });
    const again = await request(origin, '/publish/idem', { method: 'POST', body: 'only once', headers });
    t.equal(first.status, 200);
    t.equal(again.status, 200);
    t.equal(again.body, first.body, 'the same id and time');
    t.equal(again.headers['pollcast-repeated'], 'true');
    t.notOk(first.headers['pollcast-repeated']);
    t.equal((await waiting).body, 'only once');
    const history = JSON.parse((await poll(origin, '0', 'idem')).body) as { messages: unknown[] };
    t.equal(history.messages.length, 1, 'stored once');

    const reused = await request(origin, '/publish/idem', { method: 'POST', body: 'something else', headers });
    t.equal(reused.status, 422);
    t.equal(reused.headers['pollcast-error'], 'key_reused');
    for (const key of ['', 'has space', 'x'.repeat(129), 'ünï']) {
      const bad = await request(origin, '/publish/idem', {
        method: 'POST',
        body: 'x',
        headers: { 'idempotency-key': Buffer.from(key).toString('latin1') },
      });
      t.equal(bad.status, 400, JSON.stringify(key));
      t.equal(bad.headers['pollcast-error'], 'bad_idempotency_key');
    }
  });

  t.test('a publisher that aborts mid-body publishes nothing', async (t) => {
    const before = JSON.parse((await request(origin, '/stats')).body) as { published: number };
    await rawExchange(origin, 'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part', 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = JSON.parse((await request(origin, '/stats')).body) as { published: number };
    t.equal(after.published, before.published);
  });
});
