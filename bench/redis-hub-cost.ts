/**
 * What the Redis hub costs beyond the in-memory hub, without HTTP: the hubs alone, in this
 * process, with W waiters that subscribe again from their cursor on the next turn of the event
 * loop after each answer (as a long poll comes back), while M messages are published with a few
 * in flight. Reported per hub, two interleaved repetitions: this process's CPU (user + system,
 * `process.cpuUsage()`) per delivery and per answer, messages per answer, and for Redis its own
 * CPU (`INFO cpu`) and commands (`INFO commandstats`) per publish. The Redis hub's figure is one
 * instance's work: its publishes, its one blocking reader and its waiters.
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node dist-bench/redis-hub-cost.js [WAITERS] [MESSAGES] [IN_FLIGHT] [HUBS]
 *
 * Starts a redis-server of its own on a free port of 127.0.0.1 (stopped by its PID); bounded
 * in count (W, M) and in time (each case gives up after 60 s).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hub, Waiter } from '../dist/hub.js';
import { MemoryHub } from '../dist/memory-hub.js';
import type { Batch } from '../dist/protocol.js';
import { RedisHub } from '../dist/redis/hub.js';
import { freePort, isAlive, redisServerArgs } from './targets.js';

const WAITERS = Number(process.argv[2] ?? 100);
const MESSAGES = Number(process.argv[3] ?? 2000);
const IN_FLIGHT = Number(process.argv[4] ?? 8);
/** `memory,redis` (the default), or one of them alone, e.g. under `--cpu-prof`. */
const KINDS = (process.argv[5] ?? 'memory,redis').split(',');
const REPETITIONS = 2;
const CASE_MS = 60_000;
const TEXT = 'x'.repeat(64);

interface Outcome {
  readonly deliveries: number;
  readonly answers: number;
  readonly cpuUs: number;
  readonly systemUs: number;
  readonly redisCpuUs: number;
  readonly commands: Map<string, number>;
}

/** One RESP command on a fresh socket; the whole reply as text (INFO's bulk string is read to its length). */
function command(port: number, ...args: string[]): Promise<string> {
  const payload = `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(() => socket.destroy(new Error('redis did not answer')), 10_000);
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      const length = /^\$(\d+)\r\n/.exec(reply);
      if (reply.endsWith('\r\n') && (!length || Buffer.byteLength(reply) >= length[0].length + Number(length[1]) + 2)) {
        clearTimeout(timer);
        socket.end();
        resolve(reply);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(payload);
  });
}

/** Redis's own CPU in µs, and calls per command. */
async function redisInfo(port: number): Promise<{ cpuUs: number; calls: Map<string, number> }> {
  const cpu = await command(port, 'INFO', 'cpu');
  const stats = await command(port, 'INFO', 'commandstats');
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
  const calls = new Map<string, number>();
  for (const match of stats.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) calls.set(match[1]!, Number(match[2]));
  return { cpuUs: (field('used_cpu_user') + field('used_cpu_sys')) * 1e6, calls };
}

/** A waiter that comes back from its new cursor on the next turn, as a long poll does, until it has every message. */
class Follower implements Waiter {
  received = 0;
  answers = 0;
  #cursor: string | undefined;
  readonly #hub: Hub;
  readonly #channel: string;
  readonly #done: () => void;

  constructor(hub: Hub, channel: string, done: () => void) {
    this.#hub = hub;
    this.#channel = channel;
    this.#done = done;
  }

  start(): void {
    this.#hub.subscribe(this.#channel, this.#cursor ?? '0', this);
  }

  deliver(batch: Batch): number {
    this.answers++;
    this.received += batch.messages.length;
    this.#cursor = batch.cursor;
    if (this.received >= MESSAGES) this.#done();
    else setImmediate(() => this.start());
    return batch.messages.length;
  }

  release(): void {}

  fail(error: Error): void {
    // Reported, not thrown: a throw here would end the process before its redis-server is stopped.
    console.log(`a waiter failed: ${error.message}`);
    this.#done();
  }
}

async function runCase(hub: Hub, channel: string, redisPort: number | undefined): Promise<Outcome> {
  await hub.open?.();
  let finished = 0;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const followers = Array.from({ length: WAITERS }, () => new Follower(hub, channel, () => ++finished === WAITERS && allDone()));
  // Every follower holds a position and is parked before the first publish, as in the bench's A.
  for (const follower of followers) follower.start();
  const until = Date.now() + CASE_MS;
  while (hub.stats().waiting < WAITERS && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  for (const follower of followers) {
    follower.received = 0;
    follower.answers = 0;
  }
  const info0 = redisPort === undefined ? undefined : await redisInfo(redisPort);
  const cpu0 = process.cpuUsage();
  let next = 0;
  const publishing = Array.from({ length: IN_FLIGHT }, async () => {
    while (next < MESSAGES && Date.now() < until) {
      next++;
      await hub.publish(channel, TEXT);
      // The next publish of this sender comes a turn later, as after an HTTP answer.
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
  await Promise.all(publishing);
  // A held timer: a case that never completes still ends here, so the redis-server is always stopped.
  let deadline: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((resolve) => (deadline = setTimeout(resolve, Math.max(0, until - Date.now()))))]);
  clearTimeout(deadline);
  if (finished < WAITERS) console.log(`${WAITERS - finished} of ${WAITERS} waiters did not get every message within ${CASE_MS / 1000} s`);
  const cpu = process.cpuUsage(cpu0);
  const info1 = redisPort === undefined ? undefined : await redisInfo(redisPort);
  await hub.close();
  const commands = new Map<string, number>();
  for (const [name, calls] of info1?.calls ?? []) {
    const delta = calls - (info0?.calls.get(name) ?? 0);
    if (delta > 0 && name !== 'info') commands.set(name, delta);
  }
  return {
    deliveries: followers.reduce((sum, f) => sum + f.received, 0),
    answers: followers.reduce((sum, f) => sum + f.answers, 0),
    cpuUs: cpu.user + cpu.system,
    systemUs: cpu.system,
    redisCpuUs: info0 && info1 ? info1.cpuUs - info0.cpuUs : 0,
    commands,
  };
}

function line(kind: string, rep: number, o: Outcome): string {
  const per = (n: number, d: number) => (d > 0 ? (n / d).toFixed(2) : '-');
  const commands = [...o.commands].map(([name, calls]) => `${name} ${per(calls, MESSAGES)}`).join(', ');
  return [
    `${kind.padEnd(7)} #${rep}`,
    `deliveries ${o.deliveries}`,
    `answers ${o.answers} (${per(o.deliveries, o.answers)} msgs each)`,
    `node ${per(o.cpuUs, o.deliveries)} µs/delivery (system ${per(o.systemUs, o.deliveries)}), ${per(o.cpuUs, o.answers)} µs/answer`,
    kind === 'redis'
      ? `redis ${per(o.redisCpuUs, MESSAGES)} µs/publish (${per(o.redisCpuUs, o.deliveries)} µs/delivery); per publish: ${commands}`
      : '',
  ].join('  ');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pollcast-redis-hub-cost-'));
  const port = await freePort();
  const started = spawnSync('/usr/bin/redis-server', redisServerArgs(port, dir), { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`redis-server failed: ${started.stderr}`);
  const pidfile = join(dir, 'redis.pid');
  // Bounded: 10 s of 50 ms tries.
  for (let tries = 0; !existsSync(pidfile); tries++) {
    if (tries > 200) throw new Error('redis-server did not start within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  try {
    console.log(`${WAITERS} waiters, ${MESSAGES} messages, ${IN_FLIGHT} publishes in flight; node ${process.version}`);
    const totals = new Map<string, Outcome[]>([
      ['memory', []],
      ['redis', []],
    ]);
    for (let rep = 1; rep <= REPETITIONS; rep++) {
      const order = rep % 2 === 1 ? ['memory', 'redis'] : ['redis', 'memory'];
      for (const kind of order.filter((name) => KINDS.includes(name))) {
        // History holds every message, so that a slow follower still gets them all.
        const hub =
          kind === 'memory'
            ? new MemoryHub({ historyLimit: MESSAGES })
            : new RedisHub({ url: `redis://127.0.0.1:${port}`, historyLimit: MESSAGES });
        const outcome = await runCase(hub, `cost-${rep}`, kind === 'redis' ? port : undefined);
        totals.get(kind)!.push(outcome);
        console.log(line(kind, rep, outcome));
      }
    }
    const perDelivery = (kind: string) => {
      const outcomes = totals.get(kind)!;
      return outcomes.reduce((s, o) => s + o.cpuUs, 0) / outcomes.reduce((s, o) => s + o.deliveries, 0);
    };
    const redis = totals.get('redis')!;
    const redisOwn = redis.reduce((s, o) => s + o.redisCpuUs, 0) / redis.reduce((s, o) => s + o.deliveries, 0);
    if (KINDS.length < 2) return;
    console.log(
      `redis ÷ memory, node CPU per delivery: ${(perDelivery('redis') / perDelivery('memory')).toFixed(2)}×; ` +
        `with Redis's own CPU: ${((perDelivery('redis') + redisOwn) / perDelivery('memory')).toFixed(2)}×`,
    );
  } finally {
    process.kill(pid, 'SIGTERM');
    // Bounded: 10 s of 50 ms checks.
    for (let tries = 0; isAlive(pid) && tries < 200; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
