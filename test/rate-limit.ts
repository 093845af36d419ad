import t from 'tap';
import { RateLimiter } from '../src/http/rate-limit.js';

t.test('a bucket allows the burst, then the rate, per client', async (t) => {
  let now = 0;
  const limiter = new RateLimiter(2, 3, () => now);
  t.same([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0], 'the burst');
  t.equal(limiter.take('a'), 500, 'then the wait until the next token');
  t.equal(limiter.take('b'), 0, 'another client has its own bucket');
  now += 499;
  t.equal(limiter.take('a'), 1);
  now += 1;
  t.equal(limiter.take('a'), 0, 'a token every 1/rate s');
  now += 60_000;
  t.same(
    [limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a') > 0],
    [0, 0, 0, true],
    'refills to the burst, not beyond',
  );
});

t.test('a rate of 0 turns the limit off', async (t) => {
  const limiter = new RateLimiter(0, 1);
  for (let i = 0; i < 100; i++) t.equal(limiter.take('a'), 0);
});

t.test('the buckets stay bounded however many clients come', async (t) => {
  let now = 0;
  const limiter = new RateLimiter(1, 1, () => now);
  for (let i = 0; i < 30_000; i++) limiter.take(`client-${i}`);
  now += 10;
  t.equal(limiter.take('client-29999'), 990, 'a recent client is still remembered');
  t.equal(limiter.take('client-0'), 0, 'the oldest were forgotten (they only get a fresh bucket)');
});
