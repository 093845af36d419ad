/**
 * Two Redis hubs on one Redis, as the bench's `pollcast-redis` runs them:
 * every publish goes to the first, subscribers long-poll the second and come
 * back from each answer's cursor, a little after the next message was read,
 * so their polls are answered from the watch's memory without parking. The
 * channel is in use all along, so it stays watched and the history reads the
 * second hub sends Redis (read scripts: every `evalsha` that is not a publish)
 * stay near zero; every subscriber still gets every message once, in order.
 */
import t from 'tap';
import type { Subscription, Waiter } from '../src/hub.js';
import type { Batch } from '../src/protocol.js';
import { RedisHub } from '../src/redis/hub.js';
import { startRedis } from './fixtures/redis.js';
import { sleep, until } from './fixtures/wait.js';

const redis = await startRedis(t);

/** Calls of a command since the last `CONFIG RESETSTAT`, from `INFO commandstats`. */
async function calls(command: string): Promise<number> {
  const info = await redis.command('INFO', 'commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

/** A subscriber that polls again from each answer's cursor, after `lag` ms (an HTTP round trip), for as long as it runs. */
class Resubscriber implements Waiter {
  readonly texts: string[] = [];
  answers = 0;
  missed = 0;
  errors: Error[] = [];
  running = true;
  #subscription: Subscription | undefined;
  readonly #hub: RedisHub;
  readonly #channel: string;
  readonly #lag: () => number;

  constructor(hub: RedisHub, channel: string, lag: () => number) {
    this.#hub = hub;
    this.#channel = channel;
    this.#lag = lag;
  }

  start(): void {
    this.#subscription = this.#hub.subscribe(this.#channel, undefined, this);
  }

  deliver(batch: Batch): void {
    this.answers++;
    if (batch.missed) this.missed++;
    this.texts.push(...batch.messages.map((message) => message.text));
    const lag = this.#lag();
    const again = () => {
      if (this.running) this.#subscription = this.#hub.subscribe(this.#channel, batch.cursor, this);
    };
    if (lag === 0) queueMicrotask(again);
    else setTimeout(again, lag);
  }

  release(): void {}

  fail(error: Error): void {
    this.errors.push(error);
  }

  stop(): void {
    this.running = false;
    this.#subscription?.cancel();
  }
}

t.test('polls on an instance that does not publish are answered from its memory, not from Redis', async (t) => {
  // The channel lingers 200 ms after its last use instead of 10 s, so that the run outlasts it many times over.
  const publisher = new RedisHub({ url: redis.url });
  const subscriber = new RedisHub({ url: redis.url, lingerMs: 200 });
  t.teardown(() => Promise.all([publisher.close(), subscriber.close()]));
  await Promise.all([publisher.open(), subscriber.open()]);
  const channel = 'steady';
  await publisher.publish(channel, 'm0');
  // Each subscriber comes back 20–29 ms after an answer while a message comes every 5 ms or so: it always finds new
  // messages waiting in the watch's memory and is answered at once, never parked, as the bench's lagging clients are.
  let seed = 1;
  const lag = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return 20 + (seed % 10);
  };
  const subscribers = Array.from({ length: 20 }, () => new Resubscriber(subscriber, channel, lag));
  for (const s of subscribers) s.start();
  await until(() => subscriber.stats().waiting === subscribers.length, 'every subscriber parked');
  await redis.command('CONFIG', 'RESETSTAT');

  // Bounded by the count: 400 publishes, 2 at a time with a 10 ms pause, about 2 s (ten times the linger).
  const MESSAGES = 400;
  const texts = Array.from({ length: MESSAGES }, (_, i) => `m${i + 1}`);
  for (let i = 0; i < MESSAGES; i += 2) {
    await Promise.all(texts.slice(i, i + 2).map((text) => publisher.publish(channel, text)));
    await sleep(10);
  }
  await until(() => subscribers.every((s) => s.texts.length === MESSAGES), 'every subscriber got every message', 10_000, {
    describe: () => subscribers.map((s) => s.texts.length).join(','),
  });
  for (const s of subscribers) s.stop();

  const reads = (await calls('evalsha')) + (await calls('eval')) - MESSAGES;
  const answers = subscribers.reduce((sum, s) => sum + s.answers, 0);
  t.comment(`${reads} history reads for ${answers} answers (${((reads / answers) * 100).toFixed(1)} %), ${MESSAGES} publishes`);
  t.ok(
    subscribers.every((s) => s.texts.join() === texts.join()),
    'every subscriber got every message once, in order',
  );
  t.same(
    subscribers.map((s) => [s.missed, s.errors.length]),
    subscribers.map(() => [0, 0]),
    'nothing missed, nothing failed',
  );
  t.ok(reads <= answers * 0.05, `history reads stay near zero: ${reads} for ${answers} answers`);
});
