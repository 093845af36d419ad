import t from 'tap';
import { compareStreamIds, formatCursor, isStreamId, parseCursor, streamIdOf, streamIdTime, ZERO_ID } from '../src/redis/stream-id.js';

t.test('isStreamId() accepts what Redis gives out and nothing else', async (t) => {
  for (const id of ['0-0', '1-0', '1796155964859-0', '1796155964859-12', '18446744073709551615-18446744073709551615'])
    t.ok(isStreamId(id), id);
  for (const id of [
    '',
    '0',
    '-',
    '1-',
    '-1',
    '01-0',
    '1-01',
    '1.5-0',
    '1-0-0',
    ' 1-0',
    '1-0\n',
    'abc-1',
    '18446744073709551616-0',
    '1-18446744073709551616',
    '123456789012345678901-0',
    'mwr8vx37ca52c4-1',
  ]) {
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
  t.ok(compareStreamIds('10-5', '1-50') > 0, 'the dash is not a digit: a longer time wins over a longer sequence');
  t.ok(compareStreamIds('1-50', '10-5') < 0);
  t.ok(compareStreamIds('12-3', '12-10') < 0, 'equal times, sequences of different lengths');
  t.ok(compareStreamIds('12-30', '12-4') > 0);
  t.ok(compareStreamIds('19-0', '21-0') < 0, 'equal lengths: the first digit that differs decides');
});

t.test('compareStreamIds() agrees with numeric order on random ids of every length', async (t) => {
  let seed = 20261202;
  // A small LCG: the same ids on every run.
  const next = (below: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % below;
  };
  const part = () => {
    const length = 1 + next(20);
    let digits = String(1 + next(9));
    while (digits.length < length) digits += String(next(10));
    return next(8) === 0 ? '0' : digits;
  };
  const sign = (n: number | bigint) => (n > 0 ? 1 : n < 0 ? -1 : 0);
  let wrong = 0;
  for (let i = 0; i < 5000; i++) {
    const [a, b] = [`${part()}-${part()}`, next(4) === 0 ? undefined : `${part()}-${part()}`];
    const other = b ?? a;
    const [ta, sa] = a.split('-').map(BigInt) as [bigint, bigint];
    const [tb, sb] = other.split('-').map(BigInt) as [bigint, bigint];
    const expected = ta !== tb ? sign(ta - tb) : sign(sa - sb);
    if (sign(compareStreamIds(a, other)) !== expected) wrong++;
  }
  t.equal(wrong, 0);
});

t.test('streamIdTime() reads the milliseconds', async (t) => {
  t.equal(streamIdTime('1796155964859-3'), 1796155964859);
  t.equal(streamIdTime(ZERO_ID), 0);
});

t.test('parseCursor() takes `<epoch>:<stream id>` and bare ids apart, and nothing else', async (t) => {
  t.same(parseCursor('a1b2c3d4e5f6:1796155964859-3'), { epoch: 'a1b2c3d4e5f6', id: '1796155964859-3' });
  t.same(parseCursor('0-0'), { epoch: '', id: '0-0' }, 'a bare id: no epoch (an empty channel, or a cursor from before epochs)');
  for (const value of [
    '',
    ':',
    ':1-0',
    'a:',
    'A:1-0',
    'a-b:1-0',
    'a:01-0',
    'a:1-0:2',
    'a:b:1-0',
    `${'a'.repeat(33)}:1-0`,
    'a :1-0',
    'mwr8vx37ca52c4-1',
  ]) {
    t.equal(parseCursor(value), undefined, JSON.stringify(value));
  }
});

t.test('formatCursor() and streamIdOf() are its inverse', async (t) => {
  t.equal(formatCursor('e1', '5-0'), 'e1:5-0');
  t.equal(formatCursor('', '0-0'), '0-0', 'no epoch: the bare id');
  for (const cursor of ['e1:5-0', '0-0']) t.equal(formatCursor(parseCursor(cursor)!.epoch, streamIdOf(cursor)), cursor);
});
