import t from 'tap';
import { batchFrames, HEARTBEAT, openingFrame } from '../src/http/sse.js';

const message = (id: string, text: string) => ({ id, text, time: 1796155257591 });

t.test('each line of a message is a data field of its own, whatever ends it', async (t) => {
  const { frames } = batchFrames({ messages: [message('r-1', 'one\ntwo\r\nthree\rfour')], missed: false, cursor: 'r-1' }, 'r-0');
  t.equal(frames, 'id: r-1\ntime: 1796155257591\ndata: one\ndata: two\ndata: three\ndata: four\n\n');
});

t.test('empty lines, unicode and field-like text stay data', async (t) => {
  const { frames } = batchFrames(
    { messages: [message('r-2', '\n\nevent: missed\nid: forged\n😀 ünï\n')], missed: false, cursor: 'r-2' },
    'r-1',
  );
  t.equal(frames, 'id: r-2\ntime: 1796155257591\ndata: \ndata: \ndata: event: missed\ndata: id: forged\ndata: 😀 ünï\ndata: \n\n');
});

t.test('a missed event comes first, without an id, so a drop before the messages loses none of them', async (t) => {
  const { frames } = batchFrames({ messages: [message('r-7', 'x'), message('r-8', 'y')], missed: true, cursor: 'r-8' }, 'r-2');
  t.match(frames, /^event: missed\ndata: .*\n\nid: r-7\ntime: 1796155257591\ndata: x\n\nid: r-8\ntime: 1796155257591\ndata: y\n\n$/);
});

t.test('the cursor a missed event carries is one to resume from without skipping the messages after it', async (t) => {
  const { frames } = batchFrames({ messages: [message('r-7', 'x'), message('r-8', 'y')], missed: true, cursor: 'r-8' }, 'r-2');
  t.match(frames, /^event: missed\ndata: \{"cursor":"r-2"\}\n\n/);
  // With no message after the gap, it ends where the channel stands.
  t.match(batchFrames({ messages: [], missed: true, cursor: 'r-9' }, 'r-2').frames, /^event: missed\ndata: \{"cursor":"r-9"\}\n\n/);
});

t.test('a large batch comes in pieces of at most the length asked for (one message at least), the missed event in the first', async (t) => {
  const messages = ['a', 'b', 'c', 'd', 'e'].map((text, i) => message(`r-${i + 10}`, text.repeat(30)));
  const batch = { messages, missed: true, cursor: 'r-14' };
  const whole = batchFrames(batch, 'r-3').frames;
  const pieces: string[] = [];
  for (let start = 0; start < messages.length; ) {
    const { frames, next } = batchFrames(batch, 'r-3', start, 120);
    t.ok(next > start, 'each piece carries a message');
    t.ok(frames.length <= 120 || next === start + 1, 'each piece fits, unless one message alone does not');
    pieces.push(frames);
    start = next;
  }
  t.ok(pieces.length > 1);
  t.equal(pieces.join(''), whole);
  t.equal(pieces.filter((piece) => piece.includes('event: missed')).length, 1);
});

t.test('an empty batch still moves the cursor on, without an event', async (t) => {
  t.same(batchFrames({ messages: [], missed: false, cursor: 'r-9' }, 'r-1'), { frames: 'id: r-9\n\n', next: 0 });
  t.same(batchFrames({ messages: [], missed: true, cursor: 'r-9' }, 'r-1'), {
    frames: 'event: missed\ndata: {"cursor":"r-9"}\n\nid: r-9\n\n',
    next: 0,
  });
});

t.test('ids can never carry a line end or a NUL', async (t) => {
  t.equal(
    batchFrames({ messages: [message('a\nevent: x\r\0', 'y')], missed: false, cursor: 'c' }, 'b').frames,
    'id: aevent: x\ntime: 1796155257591\ndata: y\n\n',
  );
  t.equal(openingFrame(2000, 'c\n\nretry: 1'), 'retry: 2000\nid: cretry: 1\n\n');
});

t.test('the heartbeat is a comment', async (t) => {
  t.match(HEARTBEAT, /^:.*\n\n$/);
});
