import t from 'tap';
import { createCommandConnection, createReaderConnection, RedisStore, streamKey } from '../src/redis/store.js';
import type { StoredEntry } from '../src/redis/store.js';
import { StreamReader } from '../src/redis/stream-reader.js';
import { startRedis } from './fixtures/redis.js';
import { sleep, until } from './fixtures/wait.js';

t.test('one blocking read covers every channel; a new channel ends it with CLIENT UNBLOCK and joins at once', async (t) => {
  const redis = await startRedis(t);
  const command = await createCommandConnection(redis.url);
  const connection = createReaderConnection(command);
  await Promise.all([command.connect(), connection.connect()]);
  const unblocks: boolean[] = [];
  // The real store, recording whether each unblock found the read it meant to end.
  const store = new (class extends RedisStore {
    override async unblock(id: number): Promise<boolean> {
      const ended = await super.unblock(id);
      unblocks.push(ended);
      return ended;
    }
  })(command, 100);
  const positions = new Map<string, string>();
  const seen: [string, string[], string][] = [];
  const reader = new StreamReader(connection, store, {
    positions: () => positions,
    entries(channel: string, entries: readonly StoredEntry[], from: string) {
      seen.push([channel, entries.map((entry) => entry.text), from]);
      positions.set(channel, entries[entries.length - 1]!.id);
    },
  });
  t.teardown(async () => {
    await reader.close();
    command.disconnect();
  });
  reader.start();
  positions.set('a', '0-0');
  reader.changed('a');
  await store.publish('a', 'first of a', undefined);
  await until(() => seen.length === 1);
  t.same(seen[0], ['a', ['first of a'], '0-0']);
  await sleep(200); // the next read is out, blocked on 'a' alone
  positions.set('b', '0-0');
  reader.changed('b');
  await until(() => unblocks.length > 0);
  t.same(unblocks, [true], 'the blocked read was ended');
  await store.publish('b', 'first of b', undefined);
  await store.publish('a', 'second of a', undefined);
  await until(() => seen.length >= 3);
  t.same(
    seen
      .slice(1)
      .map(([channel, texts]) => [channel, texts])
      .sort(),
    [
      ['a', ['second of a']],
      ['b', ['first of b']],
    ],
    'both channels are read by the one reader',
  );
  const clients = await redis.command('CLIENT', 'LIST');
  t.equal(clients.split('\n').filter((line) => line.includes('name=pollcast-reader')).length, 1, 'one reader connection');
  reader.changed('a');
  t.same(unblocks, [true], 'a channel already read ends nothing');
  t.equal(streamKey('a'), 'pollcast:{a}');
});
