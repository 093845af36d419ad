import t from 'tap';
import { compareStreamIds, isStreamId, streamIdTime, ZERO_ID } from '../src/stream-id.js';

t.test('isStreamId() accepts what Redis gives out and nothing else', async (t) => {
  for (const id of ['0-0', '1-0', '1796155964859-0', '1796155964859-12', '18446744073709551615-18446744073709551615']) t.ok(isStreamId(id), id);
  for (const id of ['', '0', '-', '1-', '-1', '01-0', '1-01', '1.5-0', '1-0-0', ' 1-0', '1-0\n', 'abc-1', '18446744073709551616-0', '1-18446744073709551616', '123456789012345678901-0', 'mwr8vx37ca52c4-1']) {
    t.notOk(isStreamId(id), JSON.stringify(id));
  }
});

t.test('compareStreamIds() orders by time, then sequence, numerically', async (t) => {
  t.equal(compareStreamIds('1-0', '1-0'), 0);
  t.ok(compareStreamIds('9-0', '10-0') < 0, 'a longer number is larger, not a later string');
  t.ok(compareStreamIds('10-0', '9-0') > 0);
  t.ok(compareStreamIds('5-9', '5-10') < 0, 'the sequence is compared as a number too');
  t.ok(compareStreamIds('5-10', '6-0') < 0, 'time first');
  t.ok(compareStreamIds(ZERO_ID, '0-1') < 0);
  t.ok(compareStreamIds('18446744073709551615-0', '18446744073709551614-99') > 0);
});

t.test('streamIdTime() reads the milliseconds', async (t) => {
  t.equal(streamIdTime('1796155964859-3'), 1796155964859);
  t.equal(streamIdTime(ZERO_ID), 0);
});
