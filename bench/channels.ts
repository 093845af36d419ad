/**
 * Several channels on one connection against one connection per channel, in one run: B
 * "browsers" each follow the same 10 channels, either on one WebSocket (`/ws?channels=…`) or one
 * long poll (`/subscribe?channels=…`) each, or on 10 connections of one channel each. The same
 * messages are published round-robin on the 10 channels; every browser must get every message
 * once. Reported: server CPU per delivery (user + system, /proc/<pid>/stat) and server memory per
 * browser (VmRSS after the connections are up, less before, /proc/<pid>/status).
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node dist-bench/channels.js [BROWSERS] [MESSAGES]
 *
 * Only 127.0.0.1. Short by default (100 browsers, 300 messages), for a loaded machine.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const BROWSERS = Number(process.argv[2] ?? 100);
const MESSAGES = Number(process.argv[3] ?? 300);
const CHANNELS = Array.from({ length: 10 }, (_, i) => `c${i}`);
const TICK = 100;

interface Server {
  readonly child: ChildProcess;
  readonly origin: string;
}

async function start(): Promise<Server> {
  const child = fork(
    CLI,
    ['--port', '0', '--publish-rate', '0', '--max-waiting-per-client', '1000000', '--max-waiting', '1000000', '--poll-timeout', '20000'],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] },
  );
  const port = await new Promise<number>((resolve) =>
    child.on('message', (m: { type?: string; port?: number }) => m.type === 'ready' && resolve(m.port!)),
  );
  return { child, origin: `http://127.0.0.1:${port}` };
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK;
}

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

function get(origin: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { agent, headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (chunk: string) => (body += chunk))
        .on('end', () => resolve(body));
    });
    req.on('error', reject).end();
  });
}

async function publishAll(origin: string): Promise<void> {
  for (let i = 0; i < MESSAGES; i += 10) {
    await Promise.all(
      CHANNELS.map(
        (channel, k) =>
          new Promise<void>((resolve, reject) => {
            request(`${origin}/publish/${channel}`, { method: 'POST', agent }, (res) => res.resume().on('end', resolve))
              .on('error', reject)
              .end(`m${i + k}`);
          }),
      ),
    );
  }
}

/** A subscriber that counts deliveries; `ready` once it follows its channels. */
interface Follower {
  readonly ready: Promise<void>;
  count: number;
  close(): void;
}

function socketFollower(origin: string, channels: readonly string[]): Follower {
  const multi = channels.length > 1;
  const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws${multi ? `?channels=${channels.join(',')}` : `/${channels[0]}`}`);
  const follower: Follower = { ready: new Promise((resolve) => ws.once('open', () => resolve())), count: 0, close: () => ws.terminate() };
  ws.on('message', (data) => {
    if (String(data).startsWith('{"type":"message"')) follower.count++;
  });
  ws.on('error', () => undefined);
  return follower;
}

function pollFollower(origin: string, channels: readonly string[]): Follower {
  const multi = channels.length > 1;
  const cursors = new Map(channels.map((channel) => [channel, '']));
  let stopped = false;
  let resolveReady: () => void = () => undefined;
  const follower: Follower = { ready: new Promise((resolve) => (resolveReady = resolve)), count: 0, close: () => (stopped = true) };
  void (async () => {
    // The first answer (since=0 on empty channels) gives every position, then the polls park.
    let first = true;
    while (!stopped) {
      const since = [...cursors].map(([channel, cursor]) => (multi ? `since=${channel}:${cursor || 0}` : `since=${cursor || 0}`)).join('&');
      const path = multi ? `/subscribe?channels=${channels.join(',')}&${since}` : `/subscribe/${channels[0]}?${since}`;
      const pending = get(origin, path);
      if (first) setTimeout(resolveReady, 50);
      first = false;
      let body: string;
      try {
        body = await pending;
      } catch {
        return;
      }
      if (stopped) return;
      if (body === '') continue;
      const parsed = JSON.parse(body) as {
        channels?: Record<string, { messages: unknown[]; cursor: string }>;
        messages?: unknown[];
        cursor?: string;
      };
      for (const [channel, batch] of Object.entries(
        parsed.channels ?? { [channels[0]!]: parsed as { messages: unknown[]; cursor: string } },
      )) {
        follower.count += batch.messages.length;
        cursors.set(channel, batch.cursor);
      }
    }
  })();
  return follower;
}

async function run(transport: 'websocket' | 'longpoll', shape: 'one connection, 10 channels' | '10 connections, 1 channel'): Promise<void> {
  const server = await start();
  const pid = server.child.pid!;
  await new Promise((resolve) => setTimeout(resolve, 300));
  const rssBefore = rssBytes(pid);
  const make = transport === 'websocket' ? socketFollower : pollFollower;
  const followers: Follower[][] = [];
  for (let b = 0; b < BROWSERS; b++) {
    followers.push(shape.startsWith('one') ? [make(server.origin, CHANNELS)] : CHANNELS.map((channel) => make(server.origin, [channel])));
  }
  await Promise.all(followers.flat().map((f) => f.ready));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const rssHeld = rssBytes(pid) - rssBefore;
  const cpuBefore = cpuMs(pid);
  const started = Date.now();
  await publishAll(server.origin);
  const expected = BROWSERS * MESSAGES;
  const total = () => followers.flat().reduce((sum, f) => sum + f.count, 0);
  while (total() < expected && Date.now() - started < 60_000) await new Promise((resolve) => setTimeout(resolve, 50));
  const cpu = cpuMs(pid) - cpuBefore;
  const delivered = total();
  for (const f of followers.flat()) f.close();
  server.child.send('shutdown');
  await new Promise((resolve) => server.child.once('exit', resolve));
  process.stdout.write(
    `| ${transport} | ${shape} | ${followers.flat().length} | ${delivered}/${expected} | ${((cpu * 1000) / delivered).toFixed(1)} µs | ${(rssHeld / BROWSERS / 1024).toFixed(1)} KB |\n`,
  );
}

process.stdout.write(`${BROWSERS} browsers × 10 channels, ${MESSAGES} messages, Node ${process.version}\n\n`);
process.stdout.write(
  '| transport | shape | connections | delivered | server CPU per delivery | server memory per browser |\n|---|---|---|---|---|---|\n',
);
for (const transport of ['websocket', 'longpoll'] as const) {
  for (const shape of ['one connection, 10 channels', '10 connections, 1 channel'] as const) await run(transport, shape);
}
agent.destroy();
