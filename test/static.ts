import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { forkServer } from './fixtures/server.js';
import { rawExchange, request } from './fixtures/http.js';

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
    t.match(page.headers.etag, /^"[A-Za-z0-9_-]+"$/);
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
  const script = await request(origin, '/js/browser/main.js');
  t.equal(script.status, 200);
  t.equal(script.headers['content-type'], 'text/javascript');
});

/** A public folder of its own in the temp dir, removed at teardown. */
function scratchPublic(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pollcast-public-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** A GET over a raw socket: the bytes the server sent (in latin1) until it closed, or 2 s passed. */
function rawGet(origin: string, path: string): Promise<string> {
  return rawExchange(origin, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
}

/** Splits a raw answer into its head and body, and checks that the body is as long as its Content-Length says. */
function checkLength(t: Test, reply: string): { status: number; etag: string | undefined; body: string } {
  const end = reply.indexOf('\r\n\r\n');
  const head = reply.slice(0, end);
  const body = reply.slice(end + 4);
  const length = /^content-length: (\d+)$/im.exec(head)?.[1];
  t.equal(Number(length), Buffer.byteLength(body, 'latin1'), 'the body is as long as Content-Length says');
  return { status: Number(head.slice(9, 12)), etag: /^etag: (.*)$/im.exec(head)?.[1], body };
}

t.test('files edited after start', async (t) => {
  const dir = scratchPublic(t, {
    'index.html': '<p>page</p>\n',
    'gone.css': 'a{}\n',
    'shrinks.js': 'x'.repeat(5000),
    'grows.js': 'small\n',
  });
  const { origin, child } = await forkServer(t, ['--public', dir]);

  t.test('a file removed after start is 404, and the server carries on', async (t) => {
    t.equal((await request(origin, '/gone.css')).status, 200);
    rmSync(join(dir, 'gone.css'));
    const answer = await request(origin, '/gone.css');
    t.equal(answer.status, 404);
    t.equal(answer.body, 'not found\n');
    t.equal(child.exitCode, null, 'the server is alive');
    t.equal((await request(origin, '/')).status, 200);
  });

  t.test('a file shrunk in place is served whole, with a length and an ETag that match it', async (t) => {
    const before = await request(origin, '/shrinks.js');
    t.equal(before.body.length, 5000);
    writeFileSync(join(dir, 'shrinks.js'), 'short\n');
    const after = checkLength(t, await rawGet(origin, '/shrinks.js'));
    t.equal(after.status, 200);
    t.equal(after.body, 'short\n');
    t.not(after.etag, before.headers.etag, 'a new ETag for new content');
    const revalidated = await request(origin, '/shrinks.js', { headers: { 'if-none-match': before.headers.etag as string } });
    t.equal(revalidated.status, 200, 'the old ETag no longer matches');
    t.equal(revalidated.body, 'short\n');
    truncateSync(join(dir, 'shrinks.js'), 0);
    const empty = checkLength(t, await rawGet(origin, '/shrinks.js'));
    t.equal(empty.body, '', 'truncated to nothing: an empty body, not a hang');
  });

  t.test('a file grown in place is served whole, with a length and an ETag that match it', async (t) => {
    const before = await request(origin, '/grows.js');
    t.equal(before.body, 'small\n');
    const grown = 'grown '.repeat(2000);
    writeFileSync(join(dir, 'grows.js'), grown);
    const after = checkLength(t, await rawGet(origin, '/grows.js'));
    t.equal(after.body, grown);
    t.not(after.etag, before.headers.etag);
    const same = await request(origin, '/grows.js', { headers: { 'if-none-match': after.etag! } });
    t.equal(same.status, 304, 'the new ETag revalidates');
  });

  t.test('a file grown past 8 MiB is refused with a bare 500, and the server carries on', async (t) => {
    writeFileSync(join(dir, 'grows.js'), Buffer.alloc(8 * 1024 * 1024 + 1, 'x'));
    const answer = await request(origin, '/grows.js');
    t.equal(answer.status, 500);
    t.equal(answer.body, 'internal server error\n');
    writeFileSync(join(dir, 'grows.js'), 'small again\n');
    t.equal((await request(origin, '/grows.js')).body, 'small again\n');
  });

  t.test('a file added after start is not served (the list is made at start)', async (t) => {
    writeFileSync(join(dir, 'late.js'), 'late\n');
    t.equal((await request(origin, '/late.js')).status, 404);
  });
});

t.test('source maps and dotfiles are never served', async (t) => {
  const dir = scratchPublic(t, {
    'index.html': 'page\n',
    'js/app.js': 'code\n//# sourceMappingURL=app.js.map\n',
    'js/app.js.map': '{"sources":["../../src/secret.ts"]}',
    '.git/config': 'secret',
    'js/.hidden': 'secret',
  });
  const { origin } = await forkServer(t, ['--public', dir]);
  t.equal((await request(origin, '/js/app.js')).status, 200);
  for (const path of ['/js/app.js.map', '/.git/config', '/js/.hidden']) t.equal((await request(origin, path)).status, 404, path);
});

t.test('the built page ships no source maps', async (t) => {
  const { origin } = await forkServer(t);
  const script = await request(origin, '/js/protocol.js');
  t.equal(script.status, 200);
  t.notMatch(script.body, /sourceMappingURL/, 'the script names no map');
  t.equal((await request(origin, '/js/protocol.js.map')).status, 404);
  t.equal((await request(origin, '/js/browser/main.js.map')).status, 404);
});
