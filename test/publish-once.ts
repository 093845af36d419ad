import t from 'tap';
import { publishOnce, publishUrl, uuid } from '../src/client/publish.js';
import type { PublishFetch, PublishRequest } from '../src/client/publish.js';

type Init = Parameters<PublishFetch>[1];

/** A request whose fetch answers with `answer` and records what it was sent. */
function request(answer: (init: Init) => Promise<Response>, extra: Partial<PublishRequest> = {}) {
  const sent: Init[] = [];
  const fetch: PublishFetch = (_url, init) => {
    sent.push(init);
    return answer(init);
  };
  return {
    sent,
    request: { url: 'http://pollcast.test/publish', text: 'hi', key: 'k-1', token: undefined, timeout: 1000, fetch, ...extra },
  };
}

t.test('publishUrl(): the bare path for the default channel', async (t) => {
  t.equal(publishUrl('http://h:1/'), 'http://h:1/publish');
  t.equal(publishUrl('http://h:1', 'default'), 'http://h:1/publish');
  t.equal(publishUrl('.', 'news'), './publish/news');
  t.throws(() => publishUrl('.', 'no/slash'), TypeError);
});

t.test('publishOnce(): the request carries the text, its key and the token', async (t) => {
  const { sent, request: req } = request(async () => Response.json({ id: 'm1', time: 5 }), { token: 'sesame' });
  t.same(await publishOnce(req), { ok: true, final: true, problem: '', published: { id: 'm1', time: 5 }, retryAfter: 0 });
  t.equal(sent[0]!.body, 'hi');
  t.equal(sent[0]!.headers['idempotency-key'], 'k-1');
  t.equal(sent[0]!.headers.authorization, 'Bearer sesame');
});

t.test('publishOnce(): 4xx is final, but 408, 429 and 5xx can be retried, after Retry-After', async (t) => {
  const answer = (status: number, headers: Record<string, string> = {}) =>
    request(async () => new Response('the reason\nmore', { status, headers })).request;
  t.same(await publishOnce(answer(413)), { ok: false, final: true, problem: '413 the reason', published: null, retryAfter: 0 });
  t.same(await publishOnce(answer(429, { 'retry-after': '3' })), {
    ok: false,
    final: false,
    problem: '429 the reason',
    published: null,
    retryAfter: 3000,
  });
  t.equal((await publishOnce(answer(408))).final, false);
  t.equal((await publishOnce(answer(503))).final, false);
});

t.test('publishOnce(): network errors, timeouts and aborts are retryable failures, never throws', async (t) => {
  const failing = request(async () => {
    throw new TypeError('fetch failed');
  }).request;
  t.same(await publishOnce(failing), { ok: false, final: false, problem: 'network error (fetch failed)', published: null, retryAfter: 0 });
  const hanging = (init: Init) =>
    new Promise<Response>((_resolve, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason)));
  t.match(await publishOnce(request(hanging, { timeout: 20 }).request), { ok: false, final: false, problem: 'no answer in time' });
  const controller = new AbortController();
  const pending = publishOnce(request(hanging, { signal: controller.signal }).request);
  controller.abort(new Error('closed'));
  t.match(await pending, { ok: false, final: false, problem: 'closed' });
});

t.test('uuid(): a v4 UUID, new each time', async (t) => {
  const one = uuid();
  t.match(one, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.not(uuid(), one);
});
