/**
 * Starting and stopping the servers under test, the way their users do: pollcast and the
 * baseline forked with IPC ready/shutdown, nchan as an nginx master of our own (never the
 * system's service), each on a free port of 127.0.0.1.
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids } from './wire.js';
import { ADMIN_TOKEN, JWT_SECRET } from './wire.js';
import type { TargetName } from './wire.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const POLLCAST_CLI = join(ROOT, 'dist', 'cli.js');
const BASELINE = fileURLToPath(new URL('./baseline-server.js', import.meta.url));
const NCHAN_TEMPLATE = join(ROOT, 'bench', 'nchan.conf');
const NCHAN_MODULE = process.env['NCHAN_MODULE'] ?? '/usr/lib/nginx/modules/ngx_nchan_module.so';

export const POLLCAST_ARGS = ['--port', '0', '--publish-rate', '0', '--max-waiting', '1000000', '--max-waiting-per-client', '1000000'];

/** For diagnosis only (profiling, GC traces): extra Node flags for the forked Node servers, and a log of their output. */
export interface NodeServerOptions {
  execArgv: string[];
  log: string | undefined;
}

let nodeServerOptions: NodeServerOptions = { execArgv: [], log: undefined };

export function setNodeServerOptions(options: NodeServerOptions): void {
  nodeServerOptions = options;
}

export interface Server {
  target: TargetName;
  /** Where to publish (and, unless `subscriberPorts` says otherwise, to subscribe and read stats). */
  port: number;
  /** Several instances: subscriber process `p` polls `subscriberPorts[p % length]`; parked polls are summed over them. */
  subscriberPorts?: number[];
  /** Every process of the server (nginx: master and workers). */
  pids: number[];
  /** What runs, for the record ("node v20…", "nginx/1.22.1 + nchan 1.3.6"). */
  version: string;
  /** The port of the target's own redis-server, whose `INFO` the bench reads; undefined without Redis. */
  redisPort?: number;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Waits for the child to exit; after `ms`, kills it (by its own pid). */
async function reap(child: ChildProcess, ms: number): Promise<void> {
  const late = await Promise.race([exited(child).then(() => false), sleep(ms).then(() => true)]);
  if (late && child.pid !== undefined) {
    process.kill(child.pid, 'SIGKILL');
    await exited(child);
  }
}

async function forkNode(target: TargetName, script: string, args: string[]): Promise<Server> {
  if (!existsSync(script)) throw new Error(`${script} is missing: build first (npm run build)`);
  const { execArgv, log } = nodeServerOptions;
  const child = fork(script, args, { stdio: ['ignore', log ? 'pipe' : 'ignore', 'pipe', 'ipc'], execArgv });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
    if (log) appendFileSync(log, chunk);
  });
  if (log) {
    appendFileSync(log, `--- ${target} ${new Date().toISOString()}\n`);
    child.stdout?.on('data', (chunk: Buffer) => appendFileSync(log, chunk));
  }
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${target} was not ready within 15 s`)), 15_000);
    child.on('message', (message: { type?: string; port?: number }) => {
      if (message.type === 'ready' && typeof message.port === 'number') {
        clearTimeout(timer);
        resolve(message.port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${target} exited with ${code} before it was ready: ${stderr.trim()}`));
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${target} has no pid`);
  return {
    target,
    port,
    pids: [pid],
    version: `node ${process.version}`,
    async stop() {
      if (child.connected) child.send('shutdown');
      await reap(child, 10_000);
    },
  };
}

/** pollcast, named after the transport its subscribers will use: the server is the same. */
export const startPollcast = (target: TargetName): Promise<Server> => forkNode(target, POLLCAST_CLI, POLLCAST_ARGS);

// ---------------------------------------------------------------------------
// pollcast on Redis: two instances, one redis-server of our own

const REDIS_SERVER = process.env['REDIS_SERVER'] ?? '/usr/bin/redis-server';

/** Why the Redis target cannot run here, or undefined when it can. */
export function redisMissing(): string | undefined {
  return existsSync(REDIS_SERVER) ? undefined : `${REDIS_SERVER} is missing (bash scripts/redis.sh)`;
}

/**
 * The flags of a redis-server of our own: loopback only (without `--bind` it listens on every
 * interface), no persistence, daemonized with its pidfile (`redis.pid`) and log in `dir`.
 */
export function redisServerArgs(port: number, dir: string): string[] {
  const file = (name: string): string => join(dir, name);
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'yes',
    '--dir',
    dir,
    '--pidfile',
    file('redis.pid'),
    '--logfile',
    file('redis.log'),
  ];
}

/** A redis-server on loopback, without persistence, in a folder of its own; stopped by its PID. */
async function startRedis(): Promise<{ url: string; port: number; pid: number; version: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pollcast-bench-redis-'));
  const port = await freePort();
  const pidfile = join(dir, 'redis.pid');
  const started = spawnSync(REDIS_SERVER, redisServerArgs(port, dir), { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`redis-server failed: ${started.stderr}`);
  // Bounded: 10 s of 50 ms tries.
  for (let tries = 0; !(existsSync(pidfile) && (await accepts(port))); tries++) {
    if (tries > 200) throw new Error('redis-server did not listen within 10 s');
    await sleep(50);
  }
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  const version = /v=([\d.]+)/.exec(spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '';
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    version: `redis ${version}`,
    async stop() {
      process.kill(pid, 'SIGTERM');
      // Bounded: 10 s of 50 ms checks, then by force.
      for (let tries = 0; isAlive(pid) && tries < 200; tries++) await sleep(50);
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether a process of that PID still runs. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * pollcast instances on one Redis (`pollcast-redis`: two, `pollcast-redis-1`: one): publishing
 * goes to the first, subscriber processes are spread over them, and the server's CPU and memory
 * are those of every instance and Redis.
 */
export async function startPollcastRedis(target: 'pollcast-redis' | 'pollcast-redis-1'): Promise<Server> {
  const redis = await startRedis();
  const count = target === 'pollcast-redis' ? 2 : 1;
  const forked = await Promise.allSettled(
    Array.from({ length: count }, () => forkNode(target, POLLCAST_CLI, [...POLLCAST_ARGS, '--redis', redis.url])),
  );
  const failed = forked.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all(forked.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)));
    await redis.stop();
    throw failed.reason;
  }
  const instances = forked.map((result) => (result as PromiseFulfilledResult<Server>).value);
  return {
    target,
    port: instances[0]!.port,
    subscriberPorts: instances.map((i) => i.port),
    pids: [...instances.flatMap((i) => i.pids), redis.pid],
    version: `${instances[0]!.version} ×${count} + ${redis.version}`,
    redisPort: redis.port,
    async stop() {
      await Promise.all(instances.map((i) => i.stop()));
      await redis.stop();
    },
  };
}
export const startBaseline = (): Promise<Server> => forkNode('baseline', BASELINE, ['--port', '0']);

// ---------------------------------------------------------------------------
// nchan

/** Why nchan cannot run here, or undefined when it can. */
export function nchanMissing(): string | undefined {
  const probe = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (probe.error) return 'nginx is not installed (apt-get install nginx-light libnginx-mod-nchan)';
  if (!existsSync(NCHAN_MODULE)) return `the nchan module is missing (${NCHAN_MODULE}; apt-get install libnginx-mod-nchan)`;
  return undefined;
}

function nginxVersion(): string {
  const probe = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  return /nginx\/[\d.]+/.exec(probe.stderr)?.[0] ?? 'nginx';
}

/** A port of 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The open-files limit nginx may raise its worker to (the hard limit of this shell). */
function fileLimit(): number {
  const probe = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' });
  const hard = Number(probe.stdout.trim());
  return Number.isSafeInteger(hard) && hard > 0 ? Math.min(hard, 65_536) : 20_000;
}

export async function startNchan(target: TargetName): Promise<Server> {
  const prefix = mkdtempSync(join(tmpdir(), 'pollcast-bench-nginx-'));
  chmodSync(prefix, 0o755); // nginx's workers may run as another user
  const port = await freePort();
  const nofile = fileLimit();
  const conf = readFileSync(NCHAN_TEMPLATE, 'utf8')
    .replaceAll('@MODULE@', NCHAN_MODULE)
    .replaceAll('@PREFIX@', prefix)
    .replaceAll('@PORT@', String(port))
    .replaceAll('@NOFILE@', String(nofile))
    .replaceAll('@CONNECTIONS@', String(nofile - 100));
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, conf);
  // -e: nginx opens its compiled-in error log before reading the configuration; keep it ours.
  const child = spawn('nginx', ['-e', join(prefix, 'error.log'), '-c', confPath, '-p', `${prefix}/`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
  });
  const cleanUp = () => rmSync(prefix, { recursive: true, force: true });
  const started = Date.now();
  // Bounded: 10 s of 50 ms tries.
  for (;;) {
    if (child.exitCode !== null) {
      cleanUp();
      throw new Error(`nginx exited with ${child.exitCode}: ${stderr.trim()}`);
    }
    if (await accepts(port)) break;
    if (Date.now() - started > 10_000) {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      cleanUp();
      throw new Error(`nginx did not listen within 10 s: ${stderr.trim()}`);
    }
    await sleep(50);
  }
  const master = child.pid;
  if (master === undefined) throw new Error('nginx has no pid');
  await sleep(100); // the worker forks right after the master listens
  return {
    target,
    port,
    pids: [master, ...childPids(master)],
    version: `${nginxVersion()} + nchan (worker_processes 1)`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(master, 'SIGTERM');
      await reap(child, 10_000);
      cleanUp();
    },
  };
}

export function startServer(target: TargetName): Promise<Server> {
  switch (target) {
    case 'pollcast':
    case 'pollcast-sse':
    case 'pollcast-ws':
    case 'pollcast-poll':
      return startPollcast(target);
    case 'pollcast-jwt':
      return forkNode(target, POLLCAST_CLI, [...POLLCAST_ARGS, '--jwt-secret', JWT_SECRET, '--admin-token', ADMIN_TOKEN]);
    case 'pollcast-redis':
    case 'pollcast-redis-1':
      return startPollcastRedis(target);
    case 'baseline':
      return startBaseline();
    case 'nchan':
    case 'nchan-multipart':
      return startNchan(target);
  }
}
