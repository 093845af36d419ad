import { spawn } from 'node:child_process';
import t from 'tap';
import { DEFAULTS } from '../src/options.js';
import { CLI, forkServer } from './fixtures/server.js';
import { request } from './fixtures/http.js';

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('--help prints the usage and exits 0', async (t) => {
  const { code, stdout } = await run(['--help']);
  t.equal(code, 0);
  t.match(stdout, /usage: pollcast/);
  t.match(stdout, /--poll-timeout/);
});

t.test('--help shows the defaults the server uses', async (t) => {
  const { stdout } = await run(['--help']);
  const options = DEFAULTS as unknown as Record<string, unknown>;
  let shown = 0;
  for (const [, flag, value] of stdout.matchAll(/^\s+--([a-z-]+) .*\(\w+, default ([^;)\s]+)[;)]/gm)) {
    const name = flag!.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
    const key = [name, `${name}Ms`, `${name}Limit`, `${name}Bytes`].find((candidate) => candidate in options);
    if (key === undefined || value === 'none' || value === 'any') continue;
    t.equal(value, String(options[key]), `--${flag}`);
    shown++;
  }
  t.ok(shown >= 20, `${shown} defaults shown`);
});

t.test('bad flags and values exit 2 with a clear message', async (t) => {
  for (const [args, reason] of [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--port', 'eighty'], /--port must be a whole number, got "eighty"/],
    [['--port', '99999'], /port must be a whole number from 0 to 65535/],
    [['--history', '0'], /historyLimit must be a whole number from 1/],
    [['--history', '10000000', '--port', '0'], /historyLimit must be a whole number from 1 to 100000, got 10000000/],
    [['--poll-timeout', '56000'], /pollTimeoutMs over 55000 ms is cut by common proxies/],
    [['--heartbeat', '60000'], /heartbeatMs over 55000 ms is cut by common proxies/],
    [['--trust-proxy', '10.0.0.0/33'], /trustProxy: "10.0.0.0\/33" is not an address/],
    [['--csp', 'nonsense'], /csp must be strict, page, off, or a whole policy/],
    [['--log-level', 'loud'], /logLevel must be one of fatal, error/],
  ] as const) {
    const { code, stderr } = await run([...args]);
    t.equal(code, 2, args.join(' '));
    t.match(stderr, reason);
  }
});

t.test('a port already taken exits 1 with the reason', async (t) => {
  const taken = await forkServer(t);
  const { code, stderr } = await run(['--port', String(taken.port)]);
  t.equal(code, 1);
  t.match(stderr, /EADDRINUSE/);
});

t.test('logs the URL it serves as a JSON line, and PORT/HOST come from the environment', async (t) => {
  const first = await forkServer(t);
  await first.stop();
  // The port just freed is very likely still free.
  const child = spawn(process.execPath, [CLI], {
    env: { ...process.env, PORT: String(first.port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const listen = await new Promise<Record<string, unknown>>((resolve) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += String(chunk);
      const found = seen
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((entry) => entry.event === 'listen');
      if (found) resolve(found);
    });
  });
  t.equal(listen.msg, `pollcast listening on http://127.0.0.1:${first.port}/`);
  t.equal(listen.port, first.port);
  const stats = await request(`http://127.0.0.1:${first.port}`, '/stats');
  t.equal(stats.status, 200);
  child.kill('SIGTERM');
  t.equal(await new Promise((resolve) => child.once('exit', resolve)), 0);
});

t.test('a poll timeout over 55 s runs only when allowed explicitly, by flag or environment', async (t) => {
  for (const [args, env] of [
    [['--allow-long-timeouts'], {}],
    [[], { POLLCAST_ALLOW_LONG_TIMEOUTS: '1' }],
  ] as const) {
    const child = spawn(process.execPath, [CLI, '--port', '0', '--poll-timeout', '60000', '--log-level', 'silent', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    t.teardown(() => child.kill('SIGKILL'));
    const ready = await new Promise<unknown>((resolve) => {
      child.on('message', resolve);
      child.once('exit', resolve);
    });
    t.match(ready, { type: 'ready' }, `${args.join(' ')} ${JSON.stringify(env)}`);
    child.kill('SIGTERM');
    t.equal(await new Promise((resolve) => child.once('exit', resolve)), 0);
  }
});

t.test('flags configure the server: --poll-timeout and --max-body', async (t) => {
  const { origin } = await forkServer(t, ['--poll-timeout', '100', '--max-body', '4']);
  t.equal((await request(origin, '/subscribe')).status, 204);
  t.equal((await request(origin, '/publish', { method: 'POST', body: '12345' })).status, 413);
  t.equal((await request(origin, '/publish', { method: 'POST', body: '1234' })).status, 200);
});

t.test('environment settings apply when no flag is given', async (t) => {
  const { origin } = await forkServer(t, [], { POLLCAST_MAX_BODY: '2', POLLCAST_POLL_TIMEOUT: '100' });
  t.equal((await request(origin, '/publish', { method: 'POST', body: '123' })).status, 413);
  t.equal((await request(origin, '/subscribe')).status, 204);
});
