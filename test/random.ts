import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { checkNoLoss } from './fixtures/random-run.js';

t.test('subscribers that reconnect at random get every message once, in one order', async (t) => {
  const { origin } = await forkServer(t, ['--poll-timeout', '300']);
  await checkNoLoss(t, [origin]);
});
