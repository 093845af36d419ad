import t from 'tap';
import {
  channelSetQuery,
  decodeChannelBatches,
  decodePositions,
  encodeChannelBatches,
  encodePositions,
  parseChannelSet,
} from '../src/channel-set.js';

t.test('parseChannelSet()', async (t) => {
  t.test('reads channels from lists and repeats, and a cursor per channel after the first colon', async (t) => {
    const set = parseChannelSet(['a,b', 'c'], ['a:3f9a0c7d21be:1796155964859-0', 'b:run-1,c:0'], 64);
    t.same(set.channels, ['a', 'b', 'c']);
    t.same(
      [...set.since],
      [
        ['a', '3f9a0c7d21be:1796155964859-0'],
        ['b', 'run-1'],
        ['c', '0'],
      ],
    );
  });
  const refused: [string, string[], string[], number, string][] = [
    ['a bad name', ['a,b c'], [], 64, 'bad_channel'],
    ['a name twice', ['a,a'], [], 64, 'bad_channel'],
    ['no channel', [','], [], 64, 'bad_channel'],
    ['one channel over the limit', ['a,b,c'], [], 2, 'too_many_subscriptions'],
    ['a since without a channel', ['a'], ['run-1'], 64, 'bad_cursor'],
    ['a since with an empty cursor', ['a'], ['a:'], 64, 'bad_cursor'],
    ['a since for a channel not in the set', ['a'], ['b:run-1'], 64, 'bad_cursor'],
    ['two cursors for a channel', ['a'], ['a:run-1', 'a:run-2'], 64, 'bad_cursor'],
  ];
  for (const [what, channels, since, max, code] of refused) {
    t.test(`refuses ${what} (${code})`, async (t) => {
      t.throws(() => parseChannelSet(channels, since, max), { name: 'ChannelSetError', code });
    });
  }
});

t.test('channelSetQuery() makes what parseChannelSet() reads, cursors with : and - intact', async (t) => {
  const query = new URLSearchParams(
    channelSetQuery(
      new Map([
        ['a', 'e1:17-0'],
        ['b', undefined],
        ['c', '0'],
      ]),
    ),
  );
  const set = parseChannelSet(query.getAll('channels'), query.getAll('since'), 64);
  t.same(set.channels, ['a', 'b', 'c']);
  t.same(
    [...set.since],
    [
      ['a', 'e1:17-0'],
      ['c', '0'],
    ],
  );
});

t.test('event ids: positions written once for their shared prefix, and read back', async (t) => {
  t.equal(encodePositions(['mwr8vx-17', 'mwr8vx-9']), 'mwr8vx-,17,9');
  const cases = [
    ['mwr8vx-17', 'mwr8vx-9'],
    ['e1:1796155964859-0', 'ff:1796155964860-3', '0-0'],
    ['a%b,c', 'a%b,d'],
    ['x'],
    ['run-5', 'run-5'],
  ];
  for (const cursors of cases) t.same(decodePositions(encodePositions(cursors), cursors.length), cursors, cursors.join(' '));
  t.equal(decodePositions('run-,1,2', 3), undefined, 'another number of channels');
  t.equal(decodePositions(',,', 2), undefined, 'empty cursors');
});

t.test('multi-channel answers: encoded and decoded, hostile text included', async (t) => {
  const batches = new Map([
    ['a', { messages: [{ id: 'r-1', text: '"}\n\u2028<x>', time: 1 }], missed: true, cursor: 'r-1' }],
    ['b', { messages: [], missed: false, cursor: 'r-1' }],
  ]);
  t.same([...decodeChannelBatches(encodeChannelBatches(batches))], [...batches]);
  t.throws(() => decodeChannelBatches('{"channels":{"a":{"messages":[],"missed":false}}}'), TypeError);
  t.throws(() => decodeChannelBatches('{"channels":{"a b":{"messages":[],"missed":false,"cursor":"x"}}}'), TypeError);
  t.throws(() => decodeChannelBatches('<html>'), SyntaxError);
});
