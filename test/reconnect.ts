import t from 'tap';
import { CLOSED, CONNECTING, LIVE, RECONNECTING, Reconnector, call, errorMessage } from '../src/client/reconnect.js';
import { NOW, recorder, timersClearedBy } from './fixtures/fakes.js';
import { sleep, until } from './fixtures/wait.js';

t.test('runs one attempt at a time, again at once on null, after the delay it was given otherwise', async (t) => {
  const { states, options } = recorder();
  let attempts = 0;
  let link!: Reconnector;
  link = new Reconnector(options, async () => {
    attempts++;
    if (attempts === 1) return null;
    if (attempts === 2) return link.fail({ status: null, reason: 'down' }, null);
    link.succeed();
    await sleep(1_000);
    return null;
  });
  t.equal(attempts, 0, 'nothing before start()');
  link.start();
  await until(() => (attempts === 3 ? true : undefined));
  t.same(
    states.map((s) => s.state),
    [RECONNECTING, CONNECTING, LIVE],
  );
  t.same(states[0]!.detail, { retryAt: NOW + 10, error: { status: null, reason: 'down' } });
  link.close();
});

t.test('an attempt that throws is a failure, retried', async (t) => {
  const { retry, options } = recorder();
  let attempts = 0;
  const link = new Reconnector(options, async () => {
    attempts++;
    throw new Error('bug');
  });
  link.start();
  t.same((await retry(0)).error, { status: null, reason: 'bug' });
  await until(() => (attempts >= 2 ? true : undefined));
  link.close();
});

t.test('close() ends the attempt (its signal aborts), a pause, and is idempotent', async (t) => {
  const { states, options } = recorder();
  let signal: AbortSignal | undefined;
  const link = new Reconnector(options, async (s) => {
    signal = s;
    link.succeed();
    await link.pause(60_000);
    return null;
  });
  link.start();
  await until(() => (link.state === LIVE ? true : undefined));
  t.equal(
    timersClearedBy(() => link.close()),
    1,
    "the pause's timer",
  );
  link.close();
  t.equal(signal?.aborted, true);
  t.same(
    states.map((s) => s.state),
    [LIVE, CLOSED],
  );
  t.equal(link.idle(), true);
  // Bounded: a pause that waited would lose this race (and end within seconds), so the test can fail.
  const once = await Promise.race([link.pause(3_000).then(() => 'returned'), sleep(500).then(() => 'still waiting')]);
  t.equal(once, 'returned', 'a pause once closed returns at once');
});

t.test('rejects bad backoff options', async (t) => {
  const attempt = async () => null;
  t.throws(() => new Reconnector({ retryBase: 0 }, attempt), RangeError);
  t.throws(() => new Reconnector({ retryBase: Infinity }, attempt), RangeError);
  t.throws(() => new Reconnector({ retryBase: 100, retryCap: 50 }, attempt), RangeError);
});

t.test("call() reports a listener's exception without throwing", async (t) => {
  const thrown = new Promise((resolve) => process.once('uncaughtException', resolve));
  call(() => {
    throw new Error('listener');
  });
  t.equal(((await thrown) as Error).message, 'listener');
  call(undefined);
});

t.test('errorMessage', async (t) => {
  t.equal(errorMessage(new TypeError('fetch failed')), 'fetch failed');
  t.equal(errorMessage('plain'), 'plain');
  t.equal(errorMessage(new Error('')), 'network error');
  t.equal(errorMessage(new Error('x'.repeat(500))).length, 200);
});
