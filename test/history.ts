import t from 'tap';
import { History } from '../src/history.js';

const entry = (seq: number) => ({ seq, message: { id: `r-${seq}`, text: `m${seq}`, time: 0 }, cost: 2 });

t.test('after() returns the entries past a sequence number, oldest first', async (t) => {
  const history = new History(10);
  for (const seq of [2, 5, 9, 14]) history.push(entry(seq));
  t.same(
    history.after(0).map((m) => m.text),
    ['m2', 'm5', 'm9', 'm14'],
  );
  t.same(
    history.after(5).map((m) => m.text),
    ['m9', 'm14'],
  );
  t.same(
    history.after(6).map((m) => m.text),
    ['m9', 'm14'],
    'a sequence number between entries',
  );
  t.same(history.after(14), []);
  t.equal(history.droppedThrough, 0, 'nothing dropped yet');
});

t.test('a full ring evicts the oldest and remembers how far eviction reached', async (t) => {
  const history = new History(3);
  for (let seq = 1; seq <= 7; seq++) history.push(entry(seq));
  t.equal(history.size, 3);
  t.equal(history.droppedThrough, 4);
  t.same(
    history.after(0).map((m) => m.text),
    ['m5', 'm6', 'm7'],
  );
  t.same(
    history.after(5).map((m) => m.text),
    ['m6', 'm7'],
    'search works across the wrap',
  );
});

t.test('a ring of one keeps the newest', async (t) => {
  const history = new History(1);
  history.push(entry(1));
  history.push(entry(2));
  t.same(
    history.after(0).map((m) => m.text),
    ['m2'],
  );
  t.equal(history.droppedThrough, 1);
});

t.test('push() returns what it evicted; shift() evicts the oldest on demand', async (t) => {
  const history = new History(2, 7);
  t.equal(history.droppedThrough, 7, 'starts from what a former channel of the name lost');
  t.equal(history.oldest, undefined);
  t.equal(history.shift(), undefined);
  t.equal(history.push(entry(10)), undefined);
  t.equal(history.push(entry(11)), undefined);
  t.equal(history.push(entry(12))?.seq, 10);
  t.equal(history.oldest?.seq, 11);
  t.equal(history.shift()?.seq, 11);
  t.equal(history.droppedThrough, 11);
  t.same(
    history.after(0).map((m) => m.text),
    ['m12'],
  );
  t.equal(history.shift()?.seq, 12);
  t.equal(history.size, 0);
  t.equal(history.push(entry(13)), undefined, 'a ring emptied by shift() fills again');
  t.same(
    history.after(0).map((m) => m.text),
    ['m13'],
  );
});

t.test('the ring costs what it holds, not its limit: it grows and shrinks with its entries', async (t) => {
  const before = process.memoryUsage().heapUsed;
  const histories = Array.from({ length: 200 }, () => new History(100_000));
  for (const history of histories) history.push(entry(1));
  const grown = process.memoryUsage().heapUsed - before;
  t.ok(grown < 4 * 1024 * 1024, `200 histories of one entry with a limit of 100 000 took ${grown} heap bytes`);

  const history = new History(100);
  let seq = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 70; i++) history.push(entry(++seq));
    t.equal(history.size, Math.min(100, 70 * (round + 1) - 65 * round), 'filled across the wrap');
    t.same(
      history.after(seq - 3).map((m) => m.text),
      [`m${seq - 2}`, `m${seq - 1}`, `m${seq}`],
    );
    for (let i = 0; i < 65; i++) history.shift();
    t.same(
      history.after(0).map((m) => m.text),
      Array.from({ length: history.size }, (_, i) => `m${seq - history.size + 1 + i}`),
      'and emptied, in order',
    );
  }
});
