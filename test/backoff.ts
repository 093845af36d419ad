import t from 'tap';
import { Backoff, retryAfterMs } from '../src/client/backoff.js';

t.test('each step doubles from retryBase up to retryCap, less up to a quarter at random', async (t) => {
  const none = new Backoff({ random: () => 0 }, { retryBase: 100, retryCap: 1000 });
  t.same(
    [0, 1, 2, 3, 4, 5].map((step) => none.delay(step)),
    [100, 200, 400, 800, 1000, 1000],
  );
  const most = new Backoff({ retryBase: 100, retryCap: 1000, random: () => 1 }, { retryBase: 1, retryCap: 2 });
  t.same(
    [0, 1, 4].map((step) => most.delay(step)),
    [75, 150, 750],
    'the options win over the defaults',
  );
  t.equal(most.cap, 1000);
});

t.test('a Retry-After is a floor, itself within the cap', async (t) => {
  const backoff = new Backoff({ random: () => 0 }, { retryBase: 100, retryCap: 1000 });
  t.equal(backoff.delay(0, 700), 700);
  t.equal(backoff.delay(0, 60_000), 1000);
  t.equal(backoff.delay(2, 50), 400, 'a shorter one changes nothing');
});

t.test('bad options throw at once', async (t) => {
  const defaults = { retryBase: 100, retryCap: 1000 };
  for (const retryBase of [0, -1, Infinity, Number.NaN])
    t.throws(() => new Backoff({ retryBase }, defaults), RangeError, String(retryBase));
  t.throws(() => new Backoff({ retryCap: 50 }, defaults), RangeError, 'a cap under the base');
  t.throws(() => new Backoff({ retryBase: 10, retryCap: Infinity }, defaults), RangeError);
});

t.test('retryAfterMs reads delta-seconds and HTTP dates, 0 otherwise', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  t.equal(retryAfterMs('3', now), 3000);
  t.equal(retryAfterMs(' 1.5 ', now), 1500);
  t.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
  t.equal(retryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now), 0, 'a date gone by');
  t.equal(retryAfterMs('-5', now), 0);
  t.equal(retryAfterMs('soon', now), 0);
  t.equal(retryAfterMs('', now), 0);
  t.equal(retryAfterMs(null, now), 0);
});
