/**
 * `npm pack` makes a package that installs and runs in an empty folder:
 * `npx pollcast` serves the page, and `pollcast/client` imports, with types,
 * in another project. Installed from the tarball, with npm's cache (filled by
 * `npm ci`) serving the dependencies.
 */

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { request } from './fixtures/http.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

t.setTimeout(180_000);

t.test('the packed tarball installs in an empty folder, npx pollcast serves the page, pollcast/client imports with types', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pollcast-package-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // The suite built dist/ and public/js/ already; --ignore-scripts skips prepare's second build.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  const paths = packed!.files.map((file) => file.path);
  t.ok(
    paths.includes('dist/cli.js') &&
      paths.includes('public/index.html') &&
      paths.includes('public/js/browser/index.d.ts') &&
      paths.includes('deploy/nginx.conf'),
    'ships what runs',
  );
  t.notOk(
    paths.some((path) => path.startsWith('src/') || path.startsWith('test/') || path.startsWith('bench/')),
    'and nothing else',
  );

  const app = join(dir, 'app');
  await run('mkdir', [app]);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed!.filename)], { cwd: app });
  t.ok((await readdir(join(app, 'node_modules'))).includes('pollcast'));

  // npx runs the bin through a shell that passes no signal on: it gets a process group of its own,
  // and the stop goes to that group (every process in it was started here).
  const server = spawn('npx', ['pollcast', '--port', '0'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stopGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-server.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  t.teardown(() => stopGroup('SIGKILL'));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout.on('data', (chunk: Buffer) => {
      out += String(chunk);
      const listen = out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { event?: string; port?: number })
        .find((entry) => entry.event === 'listen');
      if (listen?.port) resolve(listen.port);
    });
    server.once('exit', (code) => reject(new Error(`npx pollcast exited with ${code}: ${out}`)));
  });
  const origin = `http://127.0.0.1:${port}`;
  const page = await request(origin, '/');
  t.equal(page.status, 200);
  t.match(page.body, /js\/browser\/main\.js/);
  t.equal((await request(origin, '/js/browser/main.js')).status, 200, 'the page has its scripts');
  t.equal((await request(origin, '/publish', { method: 'POST', body: 'installed' })).status, 200);
  const closed = new Promise<void>((resolve) => server.stdout.once('close', resolve));
  stopGroup('SIGTERM');
  await closed;
  t.match(out, /"event":"shutdown","step":"closed"/, 'pollcast stops cleanly on SIGTERM');

  await writeFile(
    join(app, 'embed.ts'),
    [
      "import { createFeed, publishOnce, publishUrl, SharedFeed, uuid } from 'pollcast/client';",
      "import type { Message } from 'pollcast/client';",
      'const shown: Message[] = [];',
      "const feed = createFeed({ base: 'https://chat.example', channel: 'news', transport: 'eventsource', onMessage: (m) => shown.push(m) });",
      "const shared = new SharedFeed({ channel: 'news', onMessage: (m: Message) => shown.push(m) });",
      "const outcome = await publishOnce({ url: publishUrl('https://chat.example', 'news'), text: 'hello', key: uuid(), token: undefined, timeout: 10_000, fetch: (url, init) => fetch(url, init) });",
      'console.log(outcome);',
      'feed.close();',
      'shared.close();',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022', 'dom'],
        types: [],
      },
      files: ['embed.ts'],
    }),
  );
  await run(process.execPath, [TSC, '-p', '.'], { cwd: app });
  t.pass('pollcast/client type-checks in another project');
  const { stdout: imported } = await run(
    process.execPath,
    ['--input-type=module', '-e', "const c = await import('pollcast/client'); console.log(typeof c.createFeed, typeof c.SharedFeed)"],
    { cwd: app },
  );
  t.equal(imported.trim(), 'function function', 'and imports as ESM');
});
