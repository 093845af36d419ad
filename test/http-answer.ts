import t from 'tap';
import { cursorRequest, endpointUrl, failedAnswer, failedRequest, withToken } from '../src/client/http-answer.js';
import { Reconnector } from '../src/client/reconnect.js';
import { fakeFetch, recorder, status } from './fixtures/fakes.js';

t.test('endpointUrl: the bare path for the default channel, the base without its trailing slashes', async (t) => {
  t.equal(endpointUrl(undefined, 'subscribe', undefined), './subscribe');
  t.equal(endpointUrl('http://h/app//', 'events', 'news'), 'http://h/app/events/news');
  t.equal(endpointUrl('http://h', 'ws', 'default'), 'http://h/ws');
  t.throws(() => endpointUrl('http://h', 'ws', '../x'), TypeError);
});

t.test('withToken', async (t) => {
  t.same(withToken({ accept: 'a' }, undefined), { accept: 'a' });
  t.same(withToken({ accept: 'a' }, ''), { accept: 'a' });
  t.same(withToken({ accept: 'a' }, 'T'), { accept: 'a', authorization: 'Bearer T' });
});

t.test('cursorRequest: GET from an escaped cursor, uncached, with the token', async (t) => {
  const fake = fakeFetch();
  const request = cursorRequest({ base: 'http://h', channel: 'c', token: 'T', fetch: fake.fetch }, 'messages', 'application/json');
  const signal = new AbortController().signal;
  void request('a&b', signal);
  const call = await fake.next();
  t.equal(call.url.href, 'http://h/messages/c?since=a%26b');
  t.same(call.init, { headers: { accept: 'application/json', authorization: 'Bearer T' }, cache: 'no-store', signal });
  t.throws(() => cursorRequest({ channel: 'a b', fetch: fake.fetch }, 'messages', 'x'), TypeError);
});

t.test('failedAnswer: the first line of the body, else the status text; Retry-After heeded; null once aborted', async (t) => {
  const { options } = recorder();
  const link = new Reconnector({ ...options, retryCap: 5_000 }, async () => null);
  const signal = new AbortController().signal;
  t.equal(await failedAnswer(link, status(503, 'busy\nmore', { 'retry-after': '2' }), signal), 2_000);
  t.equal(await failedAnswer(link, status(401), signal), 20);
  const aborted = AbortSignal.abort();
  t.equal(await failedAnswer(link, status(500, 'x'), aborted), null);
  t.equal(failedRequest(link, new TypeError('fetch failed'), aborted), null, 'our own abort is no failure');
  t.equal(failedRequest(link, new TypeError('fetch failed'), signal), 40);
});
