import t from 'tap';
import { CHANNEL_NAME, decodeBatch, encodeBatch } from '../src/protocol.js';
import type { Batch } from '../src/protocol.js';

t.test('a batch survives the round trip, unicode and control characters included', async (t) => {
  const batch: Batch = {
    messages: [{ id: 'r-1', text: 'línea 1\nline "2"\u2028😀\u0000', time: 1 }],
    missed: true,
    cursor: 'r-1',
  };
  t.same(decodeBatch(encodeBatch(batch)), batch);
});

t.test('encodeBatch() writes exactly what JSON.stringify would, also when messages are reused', async (t) => {
  const hostile = { id: 'r-"\\-1', text: '</script><script>alert(1)</script>\u2028\r\n"\\', time: 5 };
  const batches: Batch[] = [
    { messages: [], missed: false, cursor: 'r-0' },
    { messages: [hostile], missed: true, cursor: 'r-"1' },
    { messages: [hostile, { id: 'r-2', text: '', time: 0 }], missed: false, cursor: 'r-2' },
  ];
  for (const batch of batches) t.equal(encodeBatch(batch), JSON.stringify(batch));
  t.equal(encodeBatch(batches[1]!), JSON.stringify(batches[1]), 'the second time, from the cache');
});

t.test('decodeBatch() refuses what is not a batch', async (t) => {
  for (const body of [
    '<html>502 Bad Gateway</html>',
    '',
    'null',
    '[]',
    '{"messages":[],"missed":false}',
    '{"messages":{},"missed":false,"cursor":"x"}',
    '{"messages":[{"id":1,"text":"x","time":1}],"missed":false,"cursor":"x"}',
    '{"messages":[],"missed":"no","cursor":"x"}',
  ]) {
    t.throws(() => decodeBatch(body), body);
  }
});

t.test('channel names', async (t) => {
  for (const good of ['a', 'room-1', 'A_b-C', 'x'.repeat(64)]) t.ok(CHANNEL_NAME.test(good), good);
  for (const bad of ['', 'x'.repeat(65), 'a b', 'a/b', 'é', '..', 'a%20b', 'a\n']) t.notOk(CHANNEL_NAME.test(bad), JSON.stringify(bad));
});
