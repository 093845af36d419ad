import t from 'tap';
import type { Batch } from '../src/protocol.js';
import { forkServer } from './fixtures/server.js';
import { poll, publish, request } from './fixtures/http.js';
import { seededRandom } from '../bench/random.js';

const PUBLISHERS = 3;
const PER_PUBLISHER = 100;
const SUBSCRIBERS = 6;
const DEADLINE_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One subscriber: polls from its cursor, sometimes pauses between polls and
 * sometimes hangs up mid-poll, until it has everything or time runs out.
 */
async function subscriber(origin: string, plain: boolean, rand: () => number, total: number, deadline: number): Promise<{ texts: string[]; missed: boolean }> {
  const texts: string[] = [];
  let cursor = '0';
  let missed = false;
  while (texts.length < total && Date.now() < deadline) {
    if (rand() < 0.3) await sleep(rand() * 40);
    const hangUp = new AbortController();
    const timer = rand() < 0.2 ? setTimeout(() => hangUp.abort(), rand() * 30) : undefined;
    try {
      const answer = plain
        ? await request(origin, `/subscribe/random?since=${encodeURIComponent(cursor)}`, { signal: hangUp.signal })
        : await poll(origin, cursor, 'random', hangUp.signal);
      if (answer.status === 200 && plain) {
        texts.push(answer.body);
        missed ||= answer.headers['pollcast-missed'] === 'true';
      } else if (answer.status === 200) {
        const batch = JSON.parse(answer.body) as Batch;
        texts.push(...batch.messages.map((m) => m.text));
        missed ||= batch.missed;
      } else if (answer.status !== 204) {
        throw new Error(`unexpected ${answer.status}: ${answer.body}`);
      }
      cursor = answer.headers['pollcast-cursor'] as string;
    } catch (error) {
      if (!hangUp.signal.aborted) throw error;
    } finally {
      clearTimeout(timer);
    }
  }
  return { texts, missed };
}

async function publisher(origin: string, name: string, rand: () => number): Promise<void> {
  for (let i = 0; i < PER_PUBLISHER; i++) {
    await publish(origin, `${name}:${i}`, 'random');
    if (rand() < 0.5) await sleep(rand() * 10);
  }
}

t.test('subscribers that reconnect at random get every message once, in one order', async (t) => {
  const seed = Number(process.env.POLLCAST_SEED ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (replay with POLLCAST_SEED=${seed})`);
  const { origin } = await forkServer(t, ['--poll-timeout', '300']);
  const total = PUBLISHERS * PER_PUBLISHER;
  const deadline = Date.now() + DEADLINE_MS;

  const subscribers = Array.from({ length: SUBSCRIBERS }, (_, i) => subscriber(origin, i % 3 === 0, seededRandom(seed + i + 1), total, deadline));
  await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => publisher(origin, `p${i}`, seededRandom(seed * 7 + i))));
  const results = await Promise.all(subscribers);

  const reference = results[0]!.texts;
  t.equal(reference.length, total, 'the first subscriber got every message');
  t.equal(new Set(reference).size, total, 'with no duplicate');
  for (let p = 0; p < PUBLISHERS; p++) {
    const own = reference.filter((text) => text.startsWith(`p${p}:`));
    t.same(own, Array.from({ length: PER_PUBLISHER }, (_, i) => `p${p}:${i}`), `publisher ${p}'s messages in the order sent`);
  }
  results.forEach((result, i) => {
    t.same(result.texts, reference, `subscriber ${i} saw the same sequence`);
    t.equal(result.missed, false, `subscriber ${i} missed nothing`);
  });
  const stats = JSON.parse((await request(origin, '/stats')).body) as { waiting: number; published: number };
  t.equal(stats.published, total);
});
