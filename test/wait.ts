import t from 'tap';
import { until } from './fixtures/wait.js';

t.test('until() resolves with the first value that is neither undefined nor false', async (t) => {
  let calls = 0;
  t.equal(await until(() => (++calls === 3 ? 'third' : undefined)), 'third');
  t.equal(await until(async () => (++calls === 5 ? 0 : false)), 0, 'async probes, and 0 is a value');
});

t.test('until() gives up after `within`, naming what it waited for and the state it ended in', async (t) => {
  await t.rejects(
    until(() => false, 'the impossible', 50, { describe: () => 'still false' }),
    {
      message: 'not within 50 ms: the impossible; still false',
    },
  );
  await t.rejects(
    until(() => undefined, 'x', 20, { describe: async () => Promise.reject(new Error('page gone')) }),
    {
      message: 'not within 20 ms: x; Error: page gone',
    },
  );
});
