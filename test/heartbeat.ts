import { get } from 'node:http';
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { WebSocket } from 'ws';
import { startPollcast } from '../src/index.js';
import type { PollcastServer } from '../src/index.js';
import { Heartbeat } from '../src/http/heartbeat.js';

const FAST_MS = 100;
const SLOW_MS = 50_000;

/** Intervals made with one of `periods` and not cleared yet, watched through the globals the server calls. */
function watchIntervals(t: Test, periods: readonly number[]): Set<unknown> {
  const live = new Set<unknown>();
  const { setInterval: set, clearInterval: clear } = globalThis;
  globalThis.setInterval = ((callback: () => void, ms?: number, ...rest: unknown[]) => {
    const timer = set(callback, ms, ...rest);
    if (ms !== undefined && periods.includes(ms)) live.add(timer);
    return timer;
  }) as typeof setInterval;
  globalThis.clearInterval = ((timer: Parameters<typeof clearInterval>[0]) => {
    live.delete(timer);
    clear(timer);
  }) as typeof clearInterval;
  t.teardown(() => {
    globalThis.setInterval = set;
    globalThis.clearInterval = clear;
  });
  return live;
}

/** Opens `/events/CHANNEL` and counts the heartbeat comments it receives. */
function countBeats(origin: string, channel: string): Promise<{ beats: () => number; response: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    get(`${origin}/events/${channel}`, (response) => {
      let beats = 0;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (beats += chunk.split(':\n\n').length - 1));
      response.on('error', () => {});
      resolve({ beats: () => beats, response });
    }).on('error', reject);
  });
}

/** Opens `/ws/CHANNEL` and counts the pings it receives. */
function countPings(origin: string, channel: string): Promise<{ pings: () => number; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws/${channel}`);
    let pings = 0;
    ws.on('ping', () => pings++);
    ws.once('open', () => resolve({ pings: () => pings, ws }));
    ws.once('error', reject);
  });
}

async function start(t: Test, heartbeatMs: number): Promise<{ pollcast: PollcastServer; origin: string }> {
  const pollcast = await startPollcast({ port: 0, heartbeatMs, logLevel: 'silent' });
  t.teardown(() => pollcast.close());
  return { pollcast, origin: `http://127.0.0.1:${pollcast.address!.port}` };
}

t.test('two servers in one process beat each at its own heartbeat, and close() leaves no timer behind', async (t) => {
  const live = watchIntervals(t, [FAST_MS, SLOW_MS]);
  const fast = await start(t, FAST_MS);
  const slow = await start(t, SLOW_MS);
  // The fast server's members first: a timer shared by the process would take its period.
  const fastStream = await countBeats(fast.origin, 'a');
  const fastSocket = await countPings(fast.origin, 'a');
  const slowStream = await countBeats(slow.origin, 'b');
  const slowSocket = await countPings(slow.origin, 'b');
  await new Promise((resolve) => setTimeout(resolve, FAST_MS * 8));
  t.ok(fastStream.beats() >= 3, `the fast server's stream beats (${fastStream.beats()} heartbeats)`);
  t.ok(fastSocket.pings() >= 3, `the fast server's socket is pinged (${fastSocket.pings()} pings)`);
  t.equal(slowStream.beats(), 0, "the slow server's stream keeps its own period");
  t.equal(slowSocket.pings(), 0, "the slow server's socket keeps its own period");
  t.equal(live.size, 2, 'one timer per server, for both transports');
  await Promise.all([fast.pollcast.close(), slow.pollcast.close()]);
  fastSocket.ws.terminate();
  slowSocket.ws.terminate();
  t.equal(live.size, 0, 'close() stopped both');
});

t.test('a heartbeat runs while it has members, and not after close()', async (t) => {
  const live = watchIntervals(t, [FAST_MS]);
  const heartbeat = new Heartbeat(FAST_MS);
  let beats = 0;
  const member = { beat: () => beats++ };
  t.equal(live.size, 0, 'no timer before the first member');
  heartbeat.add(member);
  heartbeat.add({ beat: () => {} });
  t.equal(live.size, 1, 'one timer for all members');
  await new Promise((resolve) => setTimeout(resolve, FAST_MS * 3.5));
  t.ok(beats >= 2, `members beat (${beats})`);
  heartbeat.delete(member);
  t.equal(live.size, 1, 'a member left: still running');
  heartbeat.close();
  t.equal(live.size, 0, 'close() stops it with members left');
  heartbeat.add(member);
  t.equal(live.size, 0, 'and a member added after close() starts nothing');
});
