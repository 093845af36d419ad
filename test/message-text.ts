import t from 'tap';
import WebSocket from 'ws';
import { HttpError } from '../src/http/errors.js';
import { checkMessageText } from '../src/http/message-text.js';
import { forkServer } from './fixtures/server.js';
import { request } from './fixtures/http.js';

const MAX_BODY = 1_024;

function codeOf(text: string, max = 4): string {
  try {
    checkMessageText(text, max);
    return 'ok';
  } catch (error) {
    return error instanceof HttpError ? error.code : String(error);
  }
}

t.test('one rule for a message text: not empty, at most max-body UTF-8 bytes, well-formed', async (t) => {
  t.equal(codeOf(''), 'empty_body');
  t.equal(codeOf('abcd'), 'ok');
  t.equal(codeOf('abcde'), 'body_too_large');
  t.equal(codeOf('éé'), 'ok', 'two 2-byte characters are 4 bytes');
  t.equal(codeOf('éé.'), 'body_too_large', 'bytes count, not characters');
  t.equal(codeOf('😀'), 'ok', 'a surrogate pair is one 4-byte character');
  t.equal(codeOf('\ud83d'), 'bad_utf8', 'a lone high surrogate');
  t.equal(codeOf('a\ude00'), 'bad_utf8', 'a lone low surrogate');
  t.equal(codeOf('\ude00\ud83d'), 'bad_utf8', 'a pair in the wrong order');
});

/**
 * Publishes each text over one WebSocket, each with its own key, and resolves
 * with each answer (`published` or the error code), in the order sent.
 */
async function publishOverWs(t: { teardown(fn: () => void): void }, url: string, texts: string[]): Promise<string[]> {
  const ws = new WebSocket(url);
  t.teardown(() => ws.terminate());
  const answers = new Map<string, string>();
  let closed = '';
  ws.on('close', (code) => (closed = `closed ${code}`));
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; code?: string; key?: string };
    if (frame.type === 'published' || frame.type === 'error')
      answers.set(frame.key ?? '?', frame.type === 'published' ? 'published' : frame.code!);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  texts.forEach((text, i) => ws.send(JSON.stringify({ type: 'publish', text, key: `k${i}` })));
  const deadline = Date.now() + 5_000;
  while (answers.size < texts.length && !closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return texts.map((_, i) => answers.get(`k${i}`) ?? (closed || 'no answer'));
}

t.test('a WebSocket publish is checked as POST /publish is: same codes, nothing stored when refused', async (t) => {
  const { origin } = await forkServer(t, ['--max-body', String(MAX_BODY)]);
  const url = `${origin.replace('http:', 'ws:')}/ws/checked`;
  const fits = 'é'.repeat(MAX_BODY / 2);
  const escaped = `${'\n'.repeat(MAX_BODY / 4)}${'x'.repeat((MAX_BODY * 3) / 4)}`;
  const answers = await publishOverWs(t, url, ['x'.repeat(MAX_BODY + 1), `${fits}.`, '\ud800', `ok \udfff`, '', fits, escaped]);
  t.same(
    answers,
    ['body_too_large', 'body_too_large', 'bad_utf8', 'bad_utf8', 'empty_body', 'published', 'published'],
    'over max-body, lone surrogates and empty are refused with the HTTP codes; a text at the limit is stored, escapes and all',
  );

  const http = await request(origin, '/publish/checked', { method: 'POST', body: 'x'.repeat(MAX_BODY + 1) });
  t.equal(http.status, 413);
  t.equal(http.headers['pollcast-error'], 'body_too_large');
  t.equal(
    (await request(origin, '/publish/checked', { method: 'POST', body: escaped })).status,
    200,
    'HTTP takes the same text at the limit',
  );

  const stored = JSON.parse((await request(origin, '/messages/checked?since=0', { headers: { accept: 'application/json' } })).body) as {
    messages: { text: string }[];
  };
  t.same(
    stored.messages.map((m) => m.text.length),
    [fits.length, escaped.length, escaped.length],
    'only what both accept is stored',
  );
});
