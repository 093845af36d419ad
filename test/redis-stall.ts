import t from 'tap';
import { WebSocket } from 'ws';
import { seededRandom } from '../bench/random.js';
import { createFeed, TRANSPORTS } from '../src/client/feed.js';
import type { Feed, Transport } from '../src/client/feed.js';
import { publish } from './fixtures/http.js';
import { startRedis } from './fixtures/redis.js';
import { forkServer } from './fixtures/server.js';

const MESSAGES = 400;
const HISTORY = 5;
/** Every subscriber must have the last message this long after the last publish. */
const SETTLE_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one subscriber heard: the index of each message (`m<i>`), and -1 for each `missed`. */
interface Heard {
  readonly name: string;
  readonly log: number[];
  readonly feed: Feed;
}

/**
 * Every message once, in order, and every message it lacks announced by a
 * `missed` between the last one before the hole and the first one after it.
 * Returns what is wrong, or undefined.
 */
function silentHole(log: readonly number[], total: number): string | undefined {
  let expected = 0;
  let warned = false;
  for (const entry of log) {
    if (entry === -1) {
      warned = true;
      continue;
    }
    if (entry < expected) return `m${entry} after m${expected - 1}: repeated or out of order`;
    if (entry > expected && !warned) return `m${expected}…m${entry - 1} skipped without missed`;
    expected = entry + 1;
    warned = false;
  }
  return expected === total ? undefined : `ended at m${expected - 1}, not m${total - 1}`;
}

t.test(
  'a stalled instance and a fast publisher on a short history: every transport tells each gap as missed, never a silent hole',
  async (t) => {
    const seed = Number(process.env.POLLCAST_SEED ?? Date.now() % 1_000_000);
    t.comment(`seed ${seed} (replay with POLLCAST_SEED=${seed})`);
    const rand = seededRandom(seed);
    const redis = await startRedis(t);
    const args = ['--redis', redis.url, '--history', String(HISTORY), '--poll-timeout', '1000', '--heartbeat', '1000'];
    const [stalled, steady] = await Promise.all([forkServer(t, args), forkServer(t, args)]);

    const heard: Heard[] = [];
    const subscribe = (origin: string, transport: Transport, name: string) => {
      const log: number[] = [];
      const feed = createFeed({
        base: origin,
        channel: 'stall',
        transport,
        WebSocket,
        network: null,
        retryBase: 20,
        retryCap: 100,
        pollInterval: 30,
        onMessage: (message) => log.push(Number(message.text.slice(1))),
        onMissed: () => log.push(-1),
      });
      t.teardown(() => feed.close());
      heard.push({ name, log, feed });
    };
    for (const transport of TRANSPORTS) {
      subscribe(stalled.origin, transport, `${transport} on the stalled instance`);
      subscribe(stalled.origin, transport, `another ${transport} on the stalled instance`);
      subscribe(steady.origin, transport, `${transport} on the publishing instance`);
    }
    for (let tries = 0; heard.some(({ feed }) => feed.state !== 'live'); tries++) {
      if (tries > 1000) throw new Error('the subscribers did not all go live within 10 s');
      await sleep(10);
    }

    let publishing = true;
    // SIGSTOP holds the stalled instance for a few hundred ms at a time: its reader's next read finds the history moved on.
    const stalls = (async () => {
      let count = 0;
      while (publishing) {
        await sleep(50 + rand() * 150);
        if (!publishing) break;
        stalled.child.kill('SIGSTOP');
        await sleep(100 + rand() * 300);
        stalled.child.kill('SIGCONT');
        count++;
      }
      return count;
    })();
    t.teardown(() => stalled.child.kill('SIGCONT'));
    for (let i = 0; i < MESSAGES; i++) await publish(steady.origin, `m${i}`, 'stall');
    publishing = false;
    t.comment(`${await stalls} stalls while ${MESSAGES} messages were published`);

    const deadline = Date.now() + SETTLE_MS;
    while (Date.now() < deadline && heard.some(({ log }) => log[log.length - 1] !== MESSAGES - 1)) await sleep(20);
    for (const { name, log } of heard) {
      const missed = log.filter((entry) => entry === -1).length;
      t.equal(silentHole(log, MESSAGES), undefined, `${name}: ${log.length - missed} messages, ${missed} gaps told`);
    }
  },
);
