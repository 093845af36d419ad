import t from 'tap';
import { newEpoch } from '../src/redis/store.js';

t.test('newEpoch() gives a fresh random token each time, across its pools', async (t) => {
  const seen = new Set<string>();
  // Three pools of 512 and some: every token of each, and the refills between them.
  for (let i = 0; i < 1600; i++) {
    const epoch = newEpoch();
    if (!/^[0-9a-f]{12}$/.test(epoch)) t.fail(`malformed epoch ${JSON.stringify(epoch)}`);
    seen.add(epoch);
  }
  t.equal(seen.size, 1600, 'no token twice');
});
