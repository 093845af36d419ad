import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { rawExchange, request } from './fixtures/http.js';

t.test('a publish token is required when set', async (t) => {
  const { origin } = await forkServer(t, ['--publish-token', 's3cret-token']);
  const missing = await request(origin, '/publish', { method: 'POST', body: 'x' });
  t.equal(missing.status, 401);
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="pollcast"');
  t.equal(missing.headers['pollcast-error'], 'unauthorized');
  t.equal(missing.body, 'a valid bearer token is required\n');
  for (const authorization of ['Bearer wrong', 'Bearer s3cret-toke', 'Basic s3cret-token', 's3cret-token', 'Bearer s3cret-token2']) {
    t.equal((await request(origin, '/publish', { method: 'POST', body: 'x', headers: { authorization } })).status, 401, authorization);
  }
  t.equal(
    (await request(origin, '/publish?access_token=s3cret-token', { method: 'POST', body: 'x' })).status,
    401,
    'not in the URL for a publish',
  );
  const ok = await request(origin, '/publish', { method: 'POST', body: 'x', headers: { authorization: 'Bearer s3cret-token' } });
  t.equal(ok.status, 200);
  t.equal((await request(origin, '/subscribe?since=0')).status, 200, 'subscribing stays open');
});

t.test('a subscribe token is required when set, in the header or the query', async (t) => {
  const { origin } = await forkServer(t, ['--subscribe-token', 'reader']);
  t.equal((await request(origin, '/subscribe?since=0')).status, 401);
  t.equal((await request(origin, '/subscribe?since=0&access_token=nope')).status, 401);
  t.equal((await request(origin, '/subscribe?since=0', { headers: { authorization: 'Bearer reader' } })).status, 204);
  t.equal((await request(origin, '/subscribe?since=0&access_token=reader')).status, 204);
  t.equal((await request(origin, '/publish', { method: 'POST', body: 'x' })).status, 200, 'publishing stays open');
});

t.test('/stats needs the subscribe token when one is set', async (t) => {
  const { origin } = await forkServer(t, ['--subscribe-token', 'reader', '--publish-token', 'writer']);
  for (const method of ['GET', 'HEAD']) {
    const missing = await request(origin, '/stats', { method });
    t.equal(missing.status, 401, method);
    t.equal(missing.headers['www-authenticate'], 'Bearer realm="pollcast"');
  }
  t.equal(
    (await request(origin, '/stats', { headers: { authorization: 'Bearer writer' } })).status,
    401,
    'the publish token is not enough',
  );
  t.equal((await request(origin, '/stats', { headers: { authorization: 'Bearer reader' } })).status, 200);
  t.equal((await request(origin, '/stats?access_token=reader')).status, 200);
  const open = await forkServer(t, ['--publish-token', 'writer']);
  t.equal((await request(open.origin, '/stats')).status, 200, 'without a subscribe token, /stats is as open as reading');
});

t.test('CORS is off by default', async (t) => {
  const { origin } = await forkServer(t);
  const answer = await request(origin, '/subscribe?since=0', { headers: { origin: 'https://elsewhere.example' } });
  t.equal(answer.status, 204);
  t.notOk(answer.headers['access-control-allow-origin']);
  const preflight = await request(origin, '/publish', {
    method: 'OPTIONS',
    headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' },
  });
  t.equal(preflight.status, 405);
});

t.test('CORS allows the listed origins only', async (t) => {
  const { origin } = await forkServer(t, ['--cors-origins', 'https://chat.example, http://localhost:3000']);
  const allowed = await request(origin, '/publish', { method: 'POST', body: 'x', headers: { origin: 'https://chat.example' } });
  t.equal(allowed.headers['access-control-allow-origin'], 'https://chat.example');
  t.match(allowed.headers['access-control-expose-headers'], /pollcast-id/);
  t.match(allowed.headers['access-control-expose-headers'], /pollcast-cursor/);
  t.equal(allowed.headers.vary, 'origin');

  const other = await request(origin, '/publish', { method: 'POST', body: 'x', headers: { origin: 'https://evil.example' } });
  t.notOk(other.headers['access-control-allow-origin']);

  const preflight = await request(origin, '/publish/room', {
    method: 'OPTIONS',
    headers: {
      origin: 'http://localhost:3000',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'idempotency-key',
    },
  });
  t.equal(preflight.status, 204);
  t.equal(preflight.headers['access-control-allow-origin'], 'http://localhost:3000');
  t.equal(preflight.headers['access-control-allow-methods'], 'POST');
  t.match(preflight.headers['access-control-allow-headers'], /idempotency-key/);
  t.equal(preflight.headers['access-control-max-age'], '600');

  const refused = await request(origin, '/subscribe', {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
  });
  t.equal(refused.status, 403);
  t.equal(refused.headers['pollcast-error'], 'origin_not_allowed');
  t.equal(refused.headers.vary, 'origin', 'a refusal varies by origin too, or a cache would serve it to the allowed');

  const page = await request(origin, '/', { headers: { origin: 'https://chat.example' } });
  t.notOk(page.headers['access-control-allow-origin'], 'the page itself is not shared');
});

t.test('CORS with * allows any origin', async (t) => {
  const { origin } = await forkServer(t, ['--cors-origins', '*']);
  const answer = await request(origin, '/stats', { headers: { origin: 'https://anyone.example' } });
  t.equal(answer.headers['access-control-allow-origin'], '*');
});

t.test('the page ships a Content-Security-Policy, nosniff and a Referrer-Policy', async (t) => {
  const { origin } = await forkServer(t);
  const page = await request(origin, '/');
  t.match(page.headers['content-security-policy'], /script-src 'self'/);
  t.match(page.headers['content-security-policy'], /default-src 'self'/);
  t.match(page.headers['content-security-policy'], /frame-ancestors 'none'/);
  t.notMatch(page.headers['content-security-policy'], /unsafe-inline|unsafe-eval/);
  const host = new URL(origin).host;
  t.match(page.headers['content-security-policy'], `connect-src 'self' ws://${host} wss://${host};`, 'the page may open its WebSocket');
  for (const hostile of ['x; script-src *', "x'", 'a b', '']) {
    const reply = await rawExchange(origin, `GET / HTTP/1.1\r\nHost: ${hostile}\r\nConnection: close\r\n\r\n`);
    const policy = /^content-security-policy: (.*)$/im.exec(reply)?.[1]?.trim();
    t.equal(
      policy,
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      `Host ${JSON.stringify(hostile)} stays out of the policy`,
    );
  }
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.equal(page.headers['referrer-policy'], 'no-referrer');
  t.notMatch(page.body, /<script>|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler that the policy would block');
});

t.test('errors never echo raw input, and are plain text that is not sniffed', async (t) => {
  const { origin } = await forkServer(t);
  const reply = await rawExchange(origin, 'GET /<script>alert(1)</script> HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(reply, /^HTTP\/1\.1 404 /);
  t.notMatch(reply, /<script>/);
  for (const path of ['/subscribe/<b>', '/subscribe?since=<img%20src=x>', '/publish/"onload="']) {
    const answer = await request(origin, path, { method: path.startsWith('/publish') ? 'POST' : 'GET', body: 'x' });
    t.equal(answer.status, 400, path);
    t.equal(answer.headers['content-type'], 'text/plain;charset=utf-8');
    t.equal(answer.headers['x-content-type-options'], 'nosniff');
    t.notMatch(answer.body, /<|"on/);
  }
});
