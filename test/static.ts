import { fileURLToPath } from 'node:url';
import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { request } from './fixtures/http.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/public', import.meta.url));

t.test('static files', async (t) => {
  const { origin } = await forkServer(t, ['--public', FIXTURE]);

  t.test('serve with their types and revalidation headers', async (t) => {
    const page = await request(origin, '/');
    t.equal(page.status, 200);
    t.equal(page.headers['content-type'], 'text/html;charset=utf-8');
    t.match(page.body, /fixture page/);
    t.equal(page.headers['cache-control'], 'no-cache');
    t.equal(page.headers['x-content-type-options'], 'nosniff');
    t.match(page.headers.etag, /^W\/".+"$/);
    t.equal((await request(origin, '/index.html')).body, page.body);
    t.equal((await request(origin, '/js/app.js')).headers['content-type'], 'text/javascript');
    t.equal((await request(origin, '/style.css')).headers['content-type'], 'text/css');
  });

  t.test('HEAD answers the headers without the body', async (t) => {
    const head = await request(origin, '/style.css', { method: 'HEAD' });
    t.equal(head.status, 200);
    t.equal(head.headers['content-length'], '16');
    t.equal(head.body, '');
  });

  t.test('a matching If-None-Match gets 304', async (t) => {
    const { headers } = await request(origin, '/style.css');
    const again = await request(origin, '/style.css', { headers: { 'if-none-match': headers.etag as string } });
    t.equal(again.status, 304);
    t.equal(again.body, '');
    const stale = await request(origin, '/style.css', { headers: { 'if-none-match': 'W/"old"' } });
    t.equal(stale.status, 200);
  });

  t.test('a Range header is ignored rather than trusted', async (t) => {
    for (const range of ['bytes=5-2', 'bytes=0-3', 'bytes=999-', 'nonsense']) {
      const answer = await request(origin, '/style.css', { headers: { range } });
      t.equal(answer.status, 200, range);
      t.equal(answer.body, 'body{color:red}\n');
    }
  });

  t.test('unknown paths get 404 with a one-line reason', async (t) => {
    for (const path of ['/nope', '/js/', '/stats/extra', '/subscribex', '/.env']) {
      const answer = await request(origin, path);
      t.equal(answer.status, 404, path);
      t.equal(answer.body, 'not found\n');
    }
  });

  t.test('other methods get 405 with Allow', async (t) => {
    const answer = await request(origin, '/index.html', { method: 'DELETE' });
    t.equal(answer.status, 405);
    t.equal(answer.headers.allow, 'GET, HEAD');
  });
});

t.test('the real page and its script are served by default', async (t) => {
  const { origin } = await forkServer(t);
  const page = await request(origin, '/');
  t.equal(page.status, 200);
  t.match(page.body, /<form[^>]*name="publish"/);
  t.match(page.body, /id="subscribe"/);
  const script = await request(origin, '/js/client/main.js');
  t.equal(script.status, 200);
  t.equal(script.headers['content-type'], 'text/javascript');
});
