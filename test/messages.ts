import t from 'tap';
import type { Batch } from '../src/protocol.js';
import { forkServer } from './fixtures/server.js';
import { publish, request } from './fixtures/http.js';

const read = async (origin: string, path: string) => {
  const answer = await request(origin, path);
  return { status: answer.status, type: answer.headers['content-type'], batch: JSON.parse(answer.body) as Batch };
};

t.test('GET /messages answers at once, for clients that poll on an interval', async (t) => {
  const { origin } = await forkServer(t, ['--history', '3', '--poll-timeout', '60000']);

  const empty = await read(origin, '/messages/room?since=0');
  t.equal(empty.status, 200, 'no waiting, even with nothing to give');
  t.equal(empty.type, 'application/json');
  t.same(empty.batch.messages, []);

  const first = await publish(origin, 'one', 'room');
  await publish(origin, 'two', 'room');
  const after = await read(origin, `/messages/room?since=${empty.batch.cursor}`);
  t.same(
    after.batch.messages.map((m) => m.text),
    ['one', 'two'],
    'the same batch as /subscribe',
  );
  t.equal(after.batch.cursor, after.batch.messages[1]!.id);

  const nothingNew = await read(origin, `/messages/room?since=${after.batch.cursor}`);
  t.same(nothingNew.batch.messages, []);
  t.equal(nothingNew.batch.cursor, after.batch.cursor, 'ask again from the same place');

  const now = await read(origin, '/messages/room');
  t.same(now.batch.messages, [], 'without since: from now');
  await publish(origin, 'three', 'room');
  t.same(
    (await read(origin, `/messages/room?since=${now.batch.cursor}`)).batch.messages.map((m) => m.text),
    ['three'],
    'and nothing lost after it',
  );

  for (const text of ['four', 'five']) await publish(origin, text, 'room');
  const late = await read(origin, `/messages/room?since=${first}`);
  t.equal(late.batch.missed, true, 'a cursor older than the history is told so');
  t.same(
    late.batch.messages.map((m) => m.text),
    ['three', 'four', 'five'],
  );
});

t.test('GET /messages refuses what /subscribe refuses', async (t) => {
  const { origin } = await forkServer(t, ['--subscribe-token', 'reader']);
  t.equal((await request(origin, '/messages?since=0')).status, 401);
  t.equal((await request(origin, '/messages?since=0&access_token=reader')).status, 200);
  t.equal((await request(origin, '/messages?since=nonsense&access_token=reader')).status, 400);
  t.equal((await request(origin, '/messages/bad%20name?access_token=reader')).status, 400);
  const post = await request(origin, '/messages', { method: 'POST', body: 'x' });
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
});
