/**
 * What a redis-server of the bench reports of itself: `INFO cpu commandstats` over one short
 * connection of plain RESP (no client library, so the probe adds nothing but its own `INFO`),
 * and the difference between two readings as the bench records it.
 */
import { connect } from 'node:net';
import type { RedisUsage } from './results.js';
import { nowMs } from './wire.js';

/** One reading: when (nowMs()), the server's CPU seconds so far, and the calls of each command and µs spent in it. */
export interface RedisReading {
  at: number;
  cpuSeconds: number;
  calls: Map<string, number>;
  usec: Map<string, number>;
}

/** `INFO cpu commandstats` of the Redis at 127.0.0.1:port. */
export function readRedis(port: number): Promise<RedisReading> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('redis INFO timed out')), 5_000);
    socket.once('connect', () => socket.write('*3\r\n$4\r\nINFO\r\n$3\r\ncpu\r\n$12\r\ncommandstats\r\n'));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      const head = /^\$(\d+)\r\n/.exec(text);
      if (!head || text.length < head[0].length + Number(head[1]) + 2) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ at: nowMs(), ...parseInfo(text.slice(head[0].length, head[0].length + Number(head[1]))) });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** `used_cpu_sys`, `used_cpu_user` and `cmdstat_<name>:calls=N,…` lines of an INFO reply. */
export function parseInfo(text: string): Omit<RedisReading, 'at'> {
  let cpuSeconds = 0;
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const line of text.split('\r\n')) {
    const cpu = /^used_cpu_(?:sys|user):([\d.]+)$/.exec(line);
    if (cpu) cpuSeconds += Number(cpu[1]);
    const stat = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (stat) {
      calls.set(stat[1]!, Number(stat[2]));
      usec.set(stat[1]!, Number(stat[3]));
    }
  }
  return { cpuSeconds, calls, usec };
}

/** Commands pollcast's connections send themselves (the others run inside its scripts). */
const SENT = /^(evalsha|eval|xread|client\|.*)$/;

/** What Redis did between `before` and `after`, leaving out the probe's own INFO; its idle CPU rate from `idle` to `before`. */
export function redisUsage(idle: RedisReading, before: RedisReading, after: RedisReading): RedisUsage {
  const calls: Record<string, number> = {};
  const usec: Record<string, number> = {};
  let roundTrips = 0;
  let commandUs = 0;
  for (const [name, count] of after.calls) {
    const delta = count - (before.calls.get(name) ?? 0);
    if (name === 'info' || delta === 0) continue;
    calls[name] = delta;
    usec[name] = (after.usec.get(name) ?? 0) - (before.usec.get(name) ?? 0);
    if (!SENT.test(name)) continue;
    roundTrips += delta;
    // A script's own time includes the commands it runs.
    commandUs += usec[name];
  }
  return {
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    seconds: (after.at - before.at) / 1000,
    idleCores: (before.cpuSeconds - idle.cpuSeconds) / Math.max(1e-3, (before.at - idle.at) / 1000),
    commandSeconds: commandUs / 1e6,
    calls,
    usec,
    roundTrips,
    xreads: calls['xread'] ?? 0,
  };
}
