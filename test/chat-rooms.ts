import t from 'tap';
import { TRANSPORTS } from '../src/client/feed-options.js';
import { historyTexts, spawnChat, texts } from './fixtures/chat.js';
import { publish } from './fixtures/http.js';
import { forkServer } from './fixtures/server.js';

t.test('pollcast chat --channel a,b: every room on one connection, each line marked with its room', async (t) => {
  const server = await forkServer(t, ['--poll-timeout', '1000']);
  for (const transport of TRANSPORTS) {
    t.test(transport, async (t) => {
      const [a, b] = [`${transport}-a`, `${transport}-b`];
      await publish(server.origin, 'old in a', a);
      await publish(server.origin, 'old\nin b', b);
      const chat = spawnChat(t, [server.origin, '--channel', `${a},${b}`, '--transport', transport, '--name', 'ann']);
      await chat.stdout.waitFor(new RegExp(`#${b} old\\n`));
      await chat.stderr.waitFor(/-- live/);
      await publish(server.origin, 'new in b', b);
      chat.type('hello\n');
      await chat.stdout.waitFor(/ann: hello\n/);
      await chat.stdout.waitFor(/new in b\n/);
      const lines = texts(chat.stdout.text);
      t.same(
        lines.filter((line) => line.startsWith(`#${a} `)),
        [`#${a} old in a`, `#${a} ann: hello`],
        'room a, history first, the typed line published there',
      );
      t.same(
        lines.filter((line) => line.startsWith(`#${b} `)),
        [`#${b} old`, `#${b} new in b`],
        'room b',
      );
      t.match(chat.stdout.text, /\n {11}in b\n/, 'a further line indented under its message');
      t.match(chat.stderr.text, new RegExp(`channels ${a}, ${b}; lines go to ${a}`));
      t.same(await historyTexts(server.origin, a), ['old in a', 'ann: hello']);
      chat.child.stdin.end();
      t.equal(await chat.exited, 0);
    });
  }
});
