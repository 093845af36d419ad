import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { startRedis } from './fixtures/redis.js';
import { checkNoLoss } from './fixtures/random-run.js';

t.test('two instances on one Redis: subscribers that switch instance at random get every message once, in one order', async (t) => {
  const redis = await startRedis(t);
  const instances = await Promise.all([0, 1].map(() => forkServer(t, ['--poll-timeout', '300', '--redis', redis.url])));
  await checkNoLoss(
    t,
    instances.map((instance) => instance.origin),
  );
});
