import t from 'tap';
import type { Test } from 'tap';
import { Outbox } from '../src/chat/outbox.js';
import type { OutboxOptions } from '../src/chat/outbox.js';
import type { PublishFetch } from '../src/client/publish.js';
import { sleep } from './fixtures/wait.js';

const URL = 'http://pollcast.test/publish/room';

type Init = Parameters<PublishFetch>[1];

/** One publish the outbox made; the test answers it. */
interface Call {
  readonly init: Init;
  respond(status: number, body?: string, headers?: Record<string, string>): void;
  fail(error: Error): void;
}

/** A `fetch` answered by hand, aborting like the real one. */
function fakeFetch() {
  const calls: Call[] = [];
  let read = 0;
  const fetch: PublishFetch = (_url, init) =>
    new Promise<Response>((resolve, reject) => {
      init.signal.addEventListener('abort', () => reject(new DOMException('This operation was aborted', 'AbortError')));
      calls.push({
        init,
        respond: (status, body = '', headers = {}) => resolve(new Response(status === 204 ? null : body, { status, headers })),
        fail: reject,
      });
    });
  async function next(within = 2000): Promise<Call> {
    const deadline = Date.now() + within;
    while (calls.length <= read) {
      if (Date.now() > deadline) throw new Error(`no publish #${read + 1} within ${within} ms`);
      await sleep(1);
    }
    return calls[read++]!;
  }
  /** How many publishes were made and not yet handed to the test. */
  const unread = (): number => calls.length - read;
  return { fetch, next, unread };
}

function accepted(call: Call, id: string): void {
  call.respond(200, JSON.stringify({ id, time: 1 }), { 'content-type': 'application/json' });
}

function outbox(t: Test, fetch: PublishFetch, options: Partial<OutboxOptions> = {}): Outbox {
  const box = new Outbox({ url: URL, fetch, retryBase: 1, retryCap: 50, random: () => 0, ...options });
  t.teardown(() => box.close());
  return box;
}

t.test('sends one line at a time, in the order pushed, each with its own key', async (t) => {
  const { fetch, next, unread } = fakeFetch();
  const box = outbox(t, fetch);
  box.push('one');
  box.push('two');
  box.push('three');
  const keys = new Set<string>();
  for (const text of ['one', 'two', 'three']) {
    const call = await next();
    await sleep(20);
    t.equal(unread(), 0, `nothing else in flight while "${text}" is`);
    t.equal(call.init.body, text);
    t.equal(call.init.headers['content-type'], 'text/plain;charset=utf-8');
    keys.add(call.init.headers['idempotency-key']!);
    accepted(call, text);
  }
  t.equal(keys.size, 3);
  t.equal(await box.drain(1000), true);
  t.equal(box.pending, 0);
});

t.test('retries network errors, 5xx and 429 with the same key, waiting at least Retry-After', async (t) => {
  const { fetch, next } = fakeFetch();
  const retries: Array<[string, number]> = [];
  const box = outbox(t, fetch, { onRetry: (_text, problem, delay) => retries.push([problem, delay]), retryCap: 1000 });
  box.push('hello');
  box.push('after');
  const first = await next();
  first.fail(new TypeError('fetch failed'));
  const second = await next();
  second.respond(503, 'server shutting down\n', { 'retry-after': '0.2' });
  const third = await next();
  third.respond(429, 'too many publishes\n');
  const fourth = await next();
  accepted(fourth, 'm1');
  const keys = [first, second, third, fourth].map((call) => call.init.headers['idempotency-key']);
  t.equal(new Set(keys).size, 1, 'one key for every try of one line');
  t.same(
    [first, second, third, fourth].map((call) => call.init.body),
    ['hello', 'hello', 'hello', 'hello'],
  );
  t.same(
    retries.map(([problem]) => problem),
    ['network error (fetch failed)', '503 server shutting down', '429 too many publishes'],
  );
  t.ok(retries[1]![1] >= 200, `Retry-After: 0.2 waits 200 ms or more (waited ${retries[1]![1]})`);
  const next1 = await next();
  t.equal(next1.init.body, 'after', 'the next line goes only once the first is in');
  t.not(next1.init.headers['idempotency-key'], keys[0]);
  accepted(next1, 'm2');
  t.equal(await box.drain(1000), true);
});

t.test('a refused line (4xx) is reported and dropped; the next one goes', async (t) => {
  const { fetch, next } = fakeFetch();
  const refused: Array<[string, string]> = [];
  const box = outbox(t, fetch, { onRefused: (text, problem) => refused.push([text, problem]) });
  box.push('x'.repeat(10));
  box.push('fits');
  (await next()).respond(413, 'message too large\n');
  const call = await next();
  t.equal(call.init.body, 'fits');
  accepted(call, 'm1');
  t.same(refused, [['x'.repeat(10), '413 message too large']]);
  t.equal(await box.drain(1000), true);
});

t.test('drain() gives up after its timeout while the server keeps failing; close() stops the retries', async (t) => {
  const { fetch, next, unread } = fakeFetch();
  const box = outbox(t, fetch, { retryBase: 5, retryCap: 5 });
  t.equal(await box.drain(10), true, 'nothing queued: drained at once');
  box.push('stuck');
  const failing = (async () => {
    for (;;) (await next(300)).respond(502, 'bad gateway\n');
  })().catch(() => undefined); // ends when close() leaves it nothing to answer
  t.equal(await box.drain(100), false);
  t.equal(box.pending, 1);
  box.close();
  await sleep(50);
  const after = unread();
  await sleep(50);
  t.equal(unread(), after, 'no publish after close()');
  t.equal(box.pending, 0);
  t.throws(() => box.push('late'), /closed/);
  await failing;
});

t.test('bad options are refused when the outbox is made', async (t) => {
  const { fetch } = fakeFetch();
  t.throws(() => new Outbox({ url: URL, fetch, timeout: 0 }), RangeError);
  t.throws(() => new Outbox({ url: URL, fetch, retryBase: -1 }), RangeError);
  t.throws(() => new Outbox({ url: URL, fetch, retryBase: 100, retryCap: 10 }), RangeError);
});
