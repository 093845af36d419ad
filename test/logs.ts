import { fork } from 'node:child_process';
import t from 'tap';
import { CLI } from './fixtures/server.js';
import { waitFor } from './fixtures/browser.js';
import { request } from './fixtures/http.js';
import { startRedis } from './fixtures/redis.js';

interface Entry {
  readonly level: number;
  readonly event?: string;
  readonly step?: string;
  readonly code?: string;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

/** Forks the server with its stdout read as JSON lines. */
async function logged(t: { teardown(fn: () => unknown): void }, args: string[]) {
  const child = fork(CLI, ['--port', '0', '--publish-rate', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    execArgv: [],
    env: { ...process.env, REDIS_URL: '' },
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (message: { port?: number }) => message.port && resolve(message.port));
    child.once('exit', () => reject(new Error(`exited: ${err}`)));
  });
  const entries = (): Entry[] =>
    out
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Entry);
  return { child, origin: `http://127.0.0.1:${port}`, entries, stderr: () => err };
}

t.test('every line is JSON: start, listen, each shutdown step; nothing on stderr', async (t) => {
  const server = await logged(t, []);
  server.child.send('shutdown');
  await new Promise((resolve) => server.child.once('exit', resolve));
  const entries = server.entries();
  t.same(
    entries.map((entry) => entry.event),
    ['start', 'listen', 'shutdown', 'shutdown', 'shutdown'],
  );
  t.same(
    entries.filter((entry) => entry.event === 'shutdown').map((entry) => entry.step),
    ['refusing', 'hub-closed', 'closed'],
  );
  t.ok(entries.every((entry) => entry.level === 30 && typeof entry.time === 'string' && entry.name === 'pollcast'));
  t.equal(server.stderr(), '');
});

t.test('limits hit are logged as warnings, once per code and period however many there are', async (t) => {
  const server = await logged(t, ['--max-body', '2', '--log-level', 'warn']);
  for (let i = 0; i < 5; i++) t.equal((await request(server.origin, '/publish', { method: 'POST', body: 'abc' })).status, 413);
  const limits = server.entries().filter((entry) => entry.event === 'limit');
  t.equal(limits.length, 1);
  t.match(limits[0], { level: 40, code: 'body_too_large', client: '127.0.0.1' });
  t.notOk(
    server.entries().some((entry) => entry.event === 'start'),
    'info lines left out at --log-level warn',
  );
});

t.test('--trust-proxy puts the forwarded client in the limit log and in its rate limit', async (t) => {
  const server = await logged(t, ['--trust-proxy', 'loopback', '--publish-rate', '1', '--publish-burst', '1', '--log-level', 'warn']);
  const from = (address: string) => ({ method: 'POST', body: 'x', headers: { 'x-forwarded-for': address } });
  t.equal((await request(server.origin, '/publish', from('198.51.100.1'))).status, 200);
  t.equal((await request(server.origin, '/publish', from('198.51.100.1'))).status, 429, 'the same client is limited');
  t.equal((await request(server.origin, '/publish', from('198.51.100.2'))).status, 200, 'another client behind the same proxy is not');
  t.match(
    server.entries().find((entry) => entry.event === 'limit'),
    { code: 'rate_limited', client: '198.51.100.1' },
  );
});

t.test('without --trust-proxy, a forged X-Forwarded-For changes nothing', async (t) => {
  const server = await logged(t, ['--publish-rate', '1', '--publish-burst', '1', '--log-level', 'warn']);
  const from = (address: string) => ({ method: 'POST', body: 'x', headers: { 'x-forwarded-for': address } });
  t.equal((await request(server.origin, '/publish', from('198.51.100.1'))).status, 200);
  t.equal((await request(server.origin, '/publish', from('198.51.100.2'))).status, 429, 'still one client: the peer');
});

t.test('Redis going down and coming back is one line each', async (t) => {
  const redis = await startRedis(t);
  const server = await logged(t, ['--redis', redis.url]);
  await redis.stop({ keep: true });
  const seen = async (up: boolean) =>
    waitFor(
      `a redis up:${up} line`,
      async () => server.entries().find((entry) => entry.event === 'redis' && entry.up === up),
      async () => JSON.stringify(server.entries()),
      15_000,
    );
  t.match(await seen(false), { level: 50, url: redis.url });
  await redis.start();
  t.match(await seen(true), { level: 30 });
  t.equal(server.entries().filter((entry) => entry.event === 'redis').length, 2);
});
