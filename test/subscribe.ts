import { connect } from 'node:net';
import t from 'tap';
import type { Batch } from '../src/protocol.js';
import { forkServer } from './fixtures/server.js';
import { poll, publish, request, waitForWaiting } from './fixtures/http.js';

const batchOf = (body: string) => JSON.parse(body) as Batch;
const texts = (body: string) => batchOf(body).messages.map((m) => m.text);

t.test('GET /subscribe', async (t) => {
  const server = await forkServer(t, ['--history', '5', '--poll-timeout', '400']);
  const { origin } = server;

  t.test('without a cursor: waits for the next message and answers it as plain text', async (t) => {
    await publish(origin, 'before');
    const answer = request(origin, '/subscribe');
    await waitForWaiting(origin, 1);
    const id = await publish(origin, 'the next one');
    const { status, headers, body } = await answer;
    t.equal(status, 200);
    t.equal(headers['content-type'], 'text/plain;charset=utf-8');
    t.equal(headers['cache-control'], 'no-store');
    t.equal(headers['pollcast-id'], id);
    t.equal(headers['pollcast-cursor'], id);
    t.equal(body, 'the next one');
  });

  t.test('many subscribers all get each message', async (t) => {
    const answers = Array.from({ length: 50 }, () => request(origin, '/subscribe/crowd'));
    await waitForWaiting(origin, 50);
    await publish(origin, 'to everyone', 'crowd');
    for (const answer of await Promise.all(answers)) t.equal(answer.body, 'to everyone');
    await waitForWaiting(origin, 0);
  });

  t.test('with a cursor: everything published meanwhile, in order, once', async (t) => {
    const first = await publish(origin, 'one', 'resume');
    await publish(origin, 'two', 'resume');
    await publish(origin, 'three', 'resume');
    const answer = await poll(origin, first, 'resume');
    t.equal(answer.status, 200);
    t.equal(answer.headers['content-type'], 'application/json');
    const batch = batchOf(answer.body);
    t.same(
      batch.messages.map((m) => m.text),
      ['two', 'three'],
    );
    t.equal(batch.missed, false);
    t.equal(batch.cursor, batch.messages[1]!.id);
    t.equal(answer.headers['pollcast-cursor'], batch.cursor);

    const waiting = poll(origin, batch.cursor, 'resume');
    await waitForWaiting(origin, 1);
    await publish(origin, 'four', 'resume');
    t.same(texts((await waiting).body), ['four'], 'then waits for the next, with no duplicate');
  });

  t.test('plain text with a cursor steps one message at a time', async (t) => {
    const first = await publish(origin, 'p1', 'plain');
    await publish(origin, 'p2', 'plain');
    await publish(origin, 'p3', 'plain');
    const second = await request(origin, `/subscribe/plain?since=${first}`);
    t.equal(second.body, 'p2');
    const third = await request(origin, `/subscribe/plain?since=${second.headers['pollcast-cursor']}`);
    t.equal(third.body, 'p3');
  });

  t.test('without a cursor, JSON clients get a batch too', async (t) => {
    const answer = request(origin, '/subscribe/jsonnext', { headers: { accept: 'application/json' } });
    await waitForWaiting(origin, 1);
    await publish(origin, 'batched', 'jsonnext');
    t.same(texts((await answer).body), ['batched']);
  });

  t.test('a cursor older than the history is answered with what is kept and missed', async (t) => {
    const first = await publish(origin, 'm0', 'small');
    for (let i = 1; i <= 7; i++) await publish(origin, `m${i}`, 'small');
    const answer = await poll(origin, first, 'small');
    const batch = batchOf(answer.body);
    t.equal(batch.missed, true);
    t.same(
      batch.messages.map((m) => m.text),
      ['m3', 'm4', 'm5', 'm6', 'm7'],
      'the history holds 5',
    );

    const plain = await request(origin, `/subscribe/small?since=${first}`);
    t.equal(plain.headers['pollcast-missed'], 'true');
    t.equal(plain.body, 'm3');
  });

  t.test('an idle poll ends with 204 and the cursor to resume from', async (t) => {
    const last = await publish(origin, 'quiet', 'idle');
    const started = Date.now();
    const answer = await poll(origin, last, 'idle');
    t.equal(answer.status, 204);
    t.equal(answer.body, '');
    t.equal(answer.headers['pollcast-cursor'], last);
    t.ok(Date.now() - started >= 300, 'held for about the poll timeout (400 ms less jitter)');

    const plain = await request(origin, '/subscribe/idle');
    t.equal(plain.status, 204);
    const cursor = plain.headers['pollcast-cursor'] as string;
    await publish(origin, 'after the timeout', 'idle');
    t.same(texts((await poll(origin, cursor, 'idle')).body), ['after the timeout'], 'resuming from a 204 cursor loses nothing');
  });

  t.test('a malformed cursor or one from the future gets 400', async (t) => {
    const id = await publish(origin, 'x', 'cursors');
    const future = id.replace(/-\d+$/, '-999999');
    for (const since of ['nonsense', future, '1e5']) {
      const answer = await poll(origin, since, 'cursors');
      t.equal(answer.status, 400, since);
      t.equal(answer.headers['pollcast-error'], 'bad_cursor');
    }
  });

  t.test('since=0 on an empty channel answers at once with the position to resume from', async (t) => {
    const answer = await poll(origin, '0', 'fresh');
    t.equal(answer.status, 200);
    const batch = batchOf(answer.body);
    t.same(batch.messages, []);
    t.equal(batch.missed, false);
    const waiting = poll(origin, batch.cursor, 'fresh');
    await waitForWaiting(origin, 1);
    await publish(origin, 'first ever', 'fresh');
    t.same(texts((await waiting).body), ['first ever']);
  });

  t.test('other methods get 405, bad channels 400', async (t) => {
    const post = await request(origin, '/subscribe', { method: 'POST', body: 'x' });
    t.equal(post.status, 405);
    t.equal(post.headers.allow, 'GET');
    const bad = await request(origin, '/subscribe/no%2Fslash');
    t.equal(bad.status, 400);
    t.equal(bad.body, 'channel names are 1 to 64 of A-Z a-z 0-9 _ -\n');
  });

  t.test('/stats counts waiting, channels, published and delivered', async (t) => {
    const before = JSON.parse((await request(origin, '/stats')).body) as Record<string, number>;
    const polls = [poll(origin, undefined, 'counted-a'), poll(origin, undefined, 'counted-a')];
    await waitForWaiting(origin, 2);
    const during = JSON.parse((await request(origin, '/stats')).body) as Record<string, number>;
    t.equal(during.waiting, 2);
    t.equal(during.channels, before.channels! + 1);
    await publish(origin, 'counted', 'counted-a');
    await Promise.all(polls);
    const after = JSON.parse((await request(origin, '/stats')).body) as Record<string, number>;
    t.equal(after.published, before.published! + 1);
    t.equal(after.delivered, before.delivered! + 2);
    t.equal(after.waiting, 0);
  });

  t.test('/stats counts what was sent: a plain-text answer is one message, a JSON batch all of them', async (t) => {
    for (const text of ['one', 'two', 'three']) await publish(origin, text, 'counted-b');
    const delivered = async () => (JSON.parse((await request(origin, '/stats')).body) as { delivered: number }).delivered;
    const before = await delivered();
    const plain = await request(origin, '/subscribe/counted-b?since=0');
    t.equal(plain.body, 'one');
    t.equal(await delivered(), before + 1, 'the plain-text answer carried one message');
    await poll(origin, '0', 'counted-b');
    t.equal(await delivered(), before + 4, 'the JSON batch carried three');
  });
});

t.test('a client that disconnects is forgotten at once, not at its timeout', async (t) => {
  const { origin } = await forkServer(t, ['--poll-timeout', '60000']);
  const controllers = Array.from({ length: 5 }, () => new AbortController());
  const polls = controllers.map((c) => poll(origin, undefined, 'leaving', c.signal).catch(() => 'aborted'));
  await waitForWaiting(origin, 5);
  for (const c of controllers) c.abort();
  t.same(await Promise.all(polls), Array(5).fill('aborted'));
  await waitForWaiting(origin, 0);
  const stats = JSON.parse((await request(origin, '/stats')).body) as { waiting: number; channels: number };
  t.same(stats.channels, 0, 'the channel they made is dropped too');
});

t.test('a keep-alive connection is watched for every poll it carries: one answered, one timed out, then one dropped', async (t) => {
  const server = await forkServer(t, ['--poll-timeout', '3000']);
  const { origin } = server;
  const socket = connect(Number(new URL(origin).port), '127.0.0.1');
  t.teardown(() => socket.destroy());
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  const ask = (since: string): void => {
    socket.write(`GET /subscribe/kept?since=${since} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n`);
  };
  const answers = async (count: number): Promise<string[]> => {
    for (let i = 0; i < 200 && (received.match(/HTTP\/1\.1 /g) ?? []).length < count; i++) await new Promise((r) => setTimeout(r, 20));
    return received.match(/HTTP\/1\.1 \d+/g) ?? [];
  };
  const cursor = await publish(origin, 'first', 'kept');
  ask('0');
  t.same(await answers(1), ['HTTP/1.1 200'], 'the history');
  ask(cursor);
  await waitForWaiting(origin, 1);
  t.same(await answers(2), ['HTTP/1.1 200', 'HTTP/1.1 204'], 'then the timeout');
  ask(cursor);
  await waitForWaiting(origin, 1);
  socket.destroy();
  await waitForWaiting(origin, 0, 1_000);
  t.pass('the third poll was forgotten when the connection closed, long before its timeout would have come');
});

t.test('a cursor from an earlier run of the server is answered with missed', async (t) => {
  const first = await forkServer(t);
  const old = await publish(first.origin, 'from the first run');
  t.equal(await first.stop(), 0);

  const second = await forkServer(t);
  await publish(second.origin, 'from the second run');
  const answer = await poll(second.origin, old);
  const batch = batchOf(answer.body);
  t.equal(batch.missed, true);
  t.same(
    batch.messages.map((m) => m.text),
    ['from the second run'],
  );

  const empty = await poll(second.origin, old, 'untouched');
  t.equal(empty.status, 200);
  t.same(batchOf(empty.body).messages, []);
  t.equal(batchOf(empty.body).missed, true, 'missed even when there is nothing to give');
  const plain = await request(second.origin, `/subscribe/untouched?since=${old}`);
  t.equal(plain.status, 204);
  t.equal(plain.headers['pollcast-missed'], 'true');
});

t.test('an answer carries what fits in --stream-buffer, and its cursor goes on from there without loss', async (t) => {
  const { origin } = await forkServer(t, ['--stream-buffer', '65536']);
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push(await publish(origin, `${i} ${'y'.repeat(20_000)}`, 'fit'));
  const got: string[] = [];
  let cursor = '0';
  let answers = 0;
  while (got.length < ids.length && answers < 20) {
    for (const path of ['/subscribe/fit', '/messages/fit']) {
      const answer = await request(origin, `${path}?since=${encodeURIComponent(cursor)}`, { headers: { accept: 'application/json' } });
      t.equal(answer.status, 200);
      t.ok(answer.body.length <= 65536, `${path} answers at most the cap (${answer.body.length} bytes)`);
      const batch = batchOf(answer.body);
      t.equal(answer.headers['pollcast-cursor'], batch.cursor);
      if (path === '/messages/fit') {
        got.push(...batch.messages.map((m) => m.id));
        cursor = batch.cursor;
      }
      answers++;
    }
  }
  t.same(got, ids, 'every message once, in order');
  t.ok(answers > 2, 'in several answers');
});
