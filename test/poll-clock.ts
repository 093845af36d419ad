import t from 'tap';
import { AT_TOKEN_EXPIRY, PollClock } from '../src/http/poll-clock.js';
import type { Timed } from '../src/http/poll-clock.js';

/** A poll that records when it expired, in ms since it was put on the clock. */
class Poll implements Timed {
  readonly added = performance.now();
  expiredAfter: number | undefined;
  readonly #onExpire: (poll: Poll) => void;

  constructor(onExpire: (poll: Poll) => void = () => undefined) {
    this.#onExpire = onExpire;
  }

  expire(): void {
    this.expiredAfter = performance.now() - this.added;
    this.#onExpire(this);
  }
}

function until(done: () => boolean, ms = 5_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (done()) resolve();
      else if (Date.now() - started > ms) reject(new Error('timed out'));
      else setTimeout(check, 5);
    };
    check();
  });
}

t.test('PollClock', async (t) => {
  t.test('gives 16 durations from the timeout down to 10 % less', async (t) => {
    const clock = new PollClock(1_600);
    const durations = new Set<number>();
    for (let ticket = 0; ticket < 16; ticket++) durations.add(clock.duration(ticket));
    t.equal(durations.size, 16);
    t.equal(Math.max(...durations), 1_600);
    t.equal(Math.min(...durations), 1_450);
    const picked = new Set<number>();
    for (let i = 0; i < 2_000; i++) picked.add(clock.pick());
    t.same(
      [...picked].sort((a, b) => a - b),
      [...Array(16).keys()],
      'every ticket is picked',
    );
  });

  t.test('expires every poll once, never before its duration, and then holds nothing', async (t) => {
    const clock = new PollClock(60);
    const polls: { poll: Poll; duration: number }[] = [];
    let expired = 0;
    for (let i = 0; i < 40; i++) {
      const poll = new Poll(() => expired++);
      const ticket = clock.pick();
      clock.add(poll, ticket);
      polls.push({ poll, duration: clock.duration(ticket) });
    }
    t.equal(clock.size, 40);
    await until(() => expired === 40);
    for (const { poll, duration } of polls)
      t.ok(poll.expiredAfter! >= duration - 1, `expired after ${poll.expiredAfter} ms, due at ${duration}`);
    t.equal(clock.size, 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.equal(expired, 40, 'none twice');
  });

  t.test('a poll taken off never expires; the others still do', async (t) => {
    const clock = new PollClock(40);
    const kept = new Poll();
    const taken = new Poll();
    clock.add(kept, 3);
    clock.add(taken, 3);
    clock.delete(taken, 3);
    clock.delete(taken, 3);
    clock.delete(new Poll(), 7);
    t.equal(clock.size, 1);
    await until(() => kept.expiredAfter !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 60));
    t.equal(taken.expiredAfter, undefined);
  });

  t.test('a poll put on later but due sooner (a shorter duration) expires first', async (t) => {
    const clock = new PollClock(200);
    const order: string[] = [];
    const long = new Poll(() => order.push('long'));
    const short = new Poll(() => order.push('short'));
    clock.add(long, 0);
    clock.add(short, 15);
    await until(() => order.length === 2);
    t.same(order, ['short', 'long']);
    t.ok(short.expiredAfter! >= clock.duration(15) - 1);
    t.ok(long.expiredAfter! >= clock.duration(0) - 1);
  });

  t.test('the last poll taken off stops the timer, and a new one starts it again', async (t) => {
    const clock = new PollClock(30);
    const first = new Poll();
    clock.add(first, 0);
    clock.delete(first, 0);
    const second = new Poll();
    clock.add(second, 0);
    await until(() => second.expiredAfter !== undefined);
    t.equal(first.expiredAfter, undefined);
  });

  t.test('a poll that expires may put another on the clock', async (t) => {
    const clock = new PollClock(20);
    let next: Poll | undefined;
    const first = new Poll(() => {
      next = new Poll();
      clock.add(next, 0);
    });
    clock.add(first, 0);
    await until(() => next?.expiredAfter !== undefined);
    t.equal(clock.size, 0);
  });
  t.test("schedule(): the clock when the token outlasts the timeout, else the token's expiry; both taken off by delete()", async (t) => {
    const clock = new PollClock(60_000);
    const lasting = new Poll();
    const ticket = clock.schedule(lasting, Date.now() + 3_600_000);
    t.ok(ticket >= 0 && ticket < 16, 'on the clock');
    t.equal(clock.size, 1);
    const ending = new Poll();
    t.equal(clock.schedule(ending, Date.now() + 30), AT_TOKEN_EXPIRY, 'timed by its token');
    t.equal(clock.size, 1, 'not on the clock');
    const ended = new Poll();
    t.equal(clock.schedule(ended, Date.now() - 1_000), AT_TOKEN_EXPIRY, 'a token already past: expired at once');
    const cancelled = new Poll();
    clock.delete(cancelled, clock.schedule(cancelled, Date.now() + 30));
    await until(() => ending.expiredAfter !== undefined && ended.expiredAfter !== undefined);
    t.ok(ending.expiredAfter! >= 29, `expired at the token's end (${ending.expiredAfter} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 60));
    t.equal(cancelled.expiredAfter, undefined, 'a poll taken off never expires');
    clock.delete(lasting, ticket);
    t.equal(clock.size, 0);
  });
});
