import t from 'tap';
import { batchFrames, HEARTBEAT, openingFrame } from '../src/sse.js';

const message = (id: string, text: string) => ({ id, text, time: 1796155257591 });

t.test('each line of a message is a data field of its own, whatever ends it', async (t) => {
  const frames = batchFrames({ messages: [message('r-1', 'one\ntwo\r\nthree\rfour')], missed: false, cursor: 'r-1' });
  t.equal(frames, 'id: r-1\ntime: 1796155257591\ndata: one\ndata: two\ndata: three\ndata: four\n\n');
});

t.test('empty lines, unicode and field-like text stay data', async (t) => {
  const frames = batchFrames({ messages: [message('r-2', '\n\nevent: missed\nid: forged\n😀 ünï\n')], missed: false, cursor: 'r-2' });
  t.equal(frames, 'id: r-2\ntime: 1796155257591\ndata: \ndata: \ndata: event: missed\ndata: id: forged\ndata: 😀 ünï\ndata: \n\n');
});

t.test('a missed event comes first, without an id, so a drop before the messages loses none of them', async (t) => {
  const frames = batchFrames({ messages: [message('r-7', 'x'), message('r-8', 'y')], missed: true, cursor: 'r-8' });
  t.equal(frames, 'event: missed\ndata: {"cursor":"r-8"}\n\nid: r-7\ntime: 1796155257591\ndata: x\n\nid: r-8\ntime: 1796155257591\ndata: y\n\n');
});

t.test('an empty batch still moves the cursor on, without an event', async (t) => {
  t.equal(batchFrames({ messages: [], missed: false, cursor: 'r-9' }), 'id: r-9\n\n');
  t.equal(batchFrames({ messages: [], missed: true, cursor: 'r-9' }), 'event: missed\ndata: {"cursor":"r-9"}\n\nid: r-9\n\n');
});

t.test('ids can never carry a line end or a NUL', async (t) => {
  t.equal(batchFrames({ messages: [message('a\nevent: x\r\0', 'y')], missed: false, cursor: 'c' }), 'id: aevent: x\ntime: 1796155257591\ndata: y\n\n');
  t.equal(openingFrame(2000, 'c\n\nretry: 1'), 'retry: 2000\nid: cretry: 1\n\n');
});

t.test('the heartbeat is a comment', async (t) => {
  t.match(HEARTBEAT, /^:.*\n\n$/);
});
