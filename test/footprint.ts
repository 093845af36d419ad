import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { CHANNEL_OVERHEAD, KEY_OVERHEAD, MESSAGE_OVERHEAD, messageCost, stringBytes } from '../src/footprint.js';
import { MemoryHub } from '../src/memory-hub.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

t.test('stringBytes(): a byte a character when all are Latin-1, two otherwise', async (t) => {
  t.equal(stringBytes('abc'), 16 + 3);
  t.equal(stringBytes('café'), 16 + 4, 'é is Latin-1');
  t.equal(stringBytes('a€'), 16 + 4, '€ makes every character two bytes');
  t.equal(stringBytes('😀'), 16 + 4);
});

t.test('messageCost(): text, overhead, and the key with its own overhead', async (t) => {
  t.equal(messageCost('x'), MESSAGE_OVERHEAD + 17);
  t.equal(messageCost('x', 'key'), MESSAGE_OVERHEAD + 17 + KEY_OVERHEAD + 19);
});

t.test('what the hub charges is at least the heap it takes', async (t) => {
  for (const [channels, key, text] of [
    [50, '', 'x'],
    [50, 'k'.repeat(120), 'x'],
    [20_000, '', 'x'],
    [50, '', '€'.repeat(40)],
  ] as const) {
    const hub = new MemoryHub({ historyBytes: 2 ** 40, maxChannels: 100_000 });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i++) {
      // Fresh strings, as a request body and header would be.
      await hub.publish(`c${i % channels}`, `${text}${i}`.slice(-text.length), key ? `${key}${i}` : undefined);
    }
    gc();
    const taken = process.memoryUsage().heapUsed - before;
    const charged = hub.stats().bytes;
    t.ok(taken <= charged, `${channels} channels, key of ${key.length}, text of ${text.length}: ${taken} bytes taken, ${charged} charged`);
    t.ok(charged < 2 * taken, 'and not twice as much');
  }
  t.ok(CHANNEL_OVERHEAD > 0);
});
