import t from 'tap';
import { BatchCache } from '../src/batch-cache.js';
import { batchCost } from '../src/footprint.js';
import type { Batch } from '../src/protocol.js';

const batch = (text: string, cursor = 'c'): Batch => ({ messages: [{ id: 'r-1', text, time: 0 }], missed: false, cursor });

t.test('a batch is kept while the budget allows, and shared by whoever asks for its place', async (t) => {
  const one = batch('x');
  const cache = new BatchCache(batchCost(one));
  const shelf = cache.shelf<number>();
  t.equal(shelf.put(1, one), one);
  t.equal(shelf.get(1), one);
  t.equal(cache.bytes, batchCost(one));
  t.equal(shelf.get(2), undefined);
});

t.test('past the budget the oldest batches go, on any shelf', async (t) => {
  const [a, b, c] = [batch('a'), batch('b'), batch('c')];
  const cache = new BatchCache(2 * batchCost(a));
  const first = cache.shelf<number>();
  const second = cache.shelf<string>();
  first.put(1, a);
  second.put('x', b);
  first.put(2, c);
  t.equal(first.get(1), undefined, 'the oldest went');
  t.equal(second.get('x'), b);
  t.equal(first.get(2), c);
  t.equal(cache.bytes, 2 * batchCost(a));
});

t.test('a batch larger than the whole budget is answered but not kept', async (t) => {
  const cache = new BatchCache(1024);
  const shelf = cache.shelf<number>();
  const big = batch('x'.repeat(1024));
  t.equal(shelf.put(1, big), big);
  t.equal(shelf.get(1), undefined);
  t.equal(cache.bytes, 0);
});

t.test("clear() gives a shelf's bytes back; a place put again replaces its batch", async (t) => {
  const cache = new BatchCache(1 << 20);
  const shelf = cache.shelf<number>();
  const other = cache.shelf<number>();
  shelf.put(1, batch('a'));
  shelf.put(1, batch('bb'));
  t.equal(cache.bytes, batchCost(batch('bb')));
  other.put(1, batch('c'));
  shelf.clear();
  t.equal(shelf.get(1), undefined);
  t.equal(cache.bytes, batchCost(batch('c')), "only the other shelf's batch is left");
});

t.test("a cost counts each message's encoding at its worst: six bytes a character", async (t) => {
  const escaped = batchCost(batch('\x01'.repeat(1000)));
  t.ok(escaped - batchCost(batch('')) >= Buffer.byteLength(JSON.stringify('\x01'.repeat(1000))) - 2);
  t.throws(() => new BatchCache(-1), RangeError);
});
