import t from 'tap';
import { checkChannelSets } from './fixtures/multi-run.js';
import { startRedis } from './fixtures/redis.js';
import { forkServer } from './fixtures/server.js';

t.test(
  'in memory: random channel sets on every transport, joining, leaving and reconnecting, get each channel once and in order',
  async (t) => {
    const server = await forkServer(t, ['--poll-timeout', '500']);
    await checkChannelSets(t, server.origin);
  },
);

t.test(
  'on Redis: random channel sets on every transport, joining, leaving and reconnecting, get each channel once and in order',
  async (t) => {
    const redis = await startRedis(t);
    const server = await forkServer(t, ['--poll-timeout', '500', '--redis', redis.url]);
    await checkChannelSets(t, server.origin);
  },
);
