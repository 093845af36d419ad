/**
 * What the bench reads from a target server while it runs: its count of parked polls over HTTP,
 * and its CPU and memory from /proc; and the loopback source addresses to connect from.
 */
import { Agent, request } from 'node:http';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from './targets.js';
import { ADAPTERS, cpuSeconds, peakRssBytes, rssBytes } from './wire.js';

const controlAgent = new Agent({ keepAlive: false });

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: controlAgent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function waiting(server: Server): Promise<number> {
  const adapter = ADAPTERS[server.target];
  try {
    let sum = 0;
    for (const port of server.subscriberPorts ?? [server.port]) sum += adapter.waiting((await get(port, adapter.statsPath)).body);
    return sum;
  } catch {
    return NaN;
  }
}

/**
 * Polls the server's count of parked polls until it is `n`; returns the last count seen.
 * Interval polls hold nothing on the server: for them there is nothing to wait for.
 */
export async function untilParked(server: Server, n: number, ms: number): Promise<number> {
  if (ADAPTERS[server.target].transport === 'poll') return n;
  const until = Date.now() + ms;
  let seen = NaN;
  // Bounded by time.
  while (Date.now() < until) {
    seen = await waiting(server);
    if (seen >= n) return seen;
    await sleep(50);
  }
  return seen;
}

/** Server CPU seconds (user + system) so far, over all its processes. */
export const serverCpu = (server: Server): number => server.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
/** Server resident memory now, in bytes. */
export const serverRss = (server: Server): number => server.pids.reduce((sum, pid) => sum + rssBytes(pid), 0);
/** Server peak resident memory, in bytes. */
export const serverPeakRss = (server: Server): number => server.pids.reduce((sum, pid) => sum + peakRssBytes(pid), 0);

/** Loopback source addresses this system lets us connect from, besides 127.0.0.1. */
export async function sourceAddresses(): Promise<string[]> {
  const probe = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  const usable: string[] = [];
  for (let i = 2; i <= 9; i++) {
    const from = `127.0.0.${i}`;
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress: from });
      const timer = setTimeout(() => resolve(false), 1_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ok) usable.push(from);
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return usable;
}
