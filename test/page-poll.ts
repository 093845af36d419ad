import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { publish, request } from './fixtures/http.js';

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

t.test("a page's plain-text poll without a cursor idles with 200 and an empty body, carrying the cursor", async (t) => {
  const { origin } = await forkServer(t, ['--poll-timeout', '100']);
  for (const headers of [{ 'user-agent': BROWSER }, { 'sec-fetch-mode': 'cors' }]) {
    const idle = await request(origin, '/subscribe?random=0.5', { headers });
    t.equal(idle.status, 200, JSON.stringify(headers));
    t.equal(idle.body, '');
    t.equal(idle.headers['content-length'], '0');
    t.type(idle.headers['pollcast-cursor'], 'string', 'the cursor, as a 204 carries it');
  }
});

t.test("everyone else keeps 204: curl, JSON (pollcast's own client), any poll with a cursor", async (t) => {
  const { origin } = await forkServer(t, ['--poll-timeout', '100']);
  const cursor = await publish(origin, 'first');
  t.equal((await request(origin, '/subscribe', { headers: { 'user-agent': 'curl/8.5.0' } })).status, 204, 'curl');
  t.equal((await request(origin, '/subscribe')).status, 204, 'no user agent');
  t.equal((await request(origin, '/subscribe', { headers: { 'user-agent': BROWSER, accept: 'application/json' } })).status, 204, 'JSON');
  t.equal((await request(origin, `/subscribe?since=${cursor}`, { headers: { 'user-agent': BROWSER } })).status, 204, 'a cursor');
});

t.test("a page's poll still gets each message as plain text", async (t) => {
  const { origin } = await forkServer(t);
  const waiting = request(origin, '/subscribe', { headers: { 'user-agent': BROWSER } });
  await new Promise((resolve) => setTimeout(resolve, 150));
  await publish(origin, 'héllo');
  const answer = await waiting;
  t.equal(answer.status, 200);
  t.equal(answer.body, 'héllo');
});

t.test('a folder of your own gets the page policy (inline scripts allowed); the built-in page the strict one', async (t) => {
  const own = await forkServer(t, ['--public', new URL('./fixtures/public', import.meta.url).pathname]);
  const builtIn = await forkServer(t);
  t.match(
    (await request(own.origin, '/', { headers: { host: 'chat.example:8080' } })).headers['content-security-policy'],
    /script-src 'self' 'unsafe-inline';.*connect-src 'self' ws:\/\/chat\.example:8080 wss:\/\/chat\.example:8080;/,
  );
  t.match((await request(builtIn.origin, '/')).headers['content-security-policy'], /script-src 'self';/);
  t.match(
    (await request(builtIn.origin, '/', { headers: { host: '[::1]:8080' } })).headers['content-security-policy'],
    /connect-src 'self';/,
    'no IPv6 literal source',
  );
  const off = await forkServer(t, ['--csp', 'off']);
  t.equal((await request(off.origin, '/')).headers['content-security-policy'], undefined);
});
