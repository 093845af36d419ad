import t from 'tap';
import { TRANSPORTS } from '../src/client/feed.js';
import { forkServer } from './fixtures/server.js';
import { publish } from './fixtures/http.js';
import { historyTexts, spawnChat, texts } from './fixtures/chat.js';

const ESC = '\x1b';

for (const transport of TRANSPORTS) {
  t.test(`over ${transport}`, async (t) => {
    t.test('history first, then live messages; own lines published once, in order, as "name: line"', async (t) => {
      const server = await forkServer(t);
      await publish(server.origin, 'old 1', 'room');
      await publish(server.origin, 'old\ntwo lines', 'room');
      await publish(server.origin, 'elsewhere', 'hall');
      const chat = spawnChat(t, [server.origin, '--channel', 'room', '--transport', transport, '--name', 'ann']);
      await chat.stdout.waitFor(/two lines\n/);
      await chat.stderr.waitFor(/^-- live$/m);
      await publish(server.origin, 'from bob', 'room');
      await chat.stdout.waitFor(/from bob\n/);
      for (let n = 1; n <= 5; n++) chat.type(`line ${n}\n`);
      await chat.stdout.waitFor(/ann: line 5\n/);
      const typed = [1, 2, 3, 4, 5].map((n) => `ann: line ${n}`);
      t.same(
        await historyTexts(server.origin, 'room'),
        ['old 1', 'old\ntwo lines', 'from bob', ...typed],
        'each line stored once, in order',
      );
      t.same(texts(chat.stdout.text), ['old 1', 'old', 'from bob', ...typed], 'shown once each, in the order of the channel');
      t.match(
        chat.stdout.text,
        /^\[\d\d:\d\d:\d\d\] old\n {11}two lines\n/m,
        'the publish time, and the second line of a message indented under the first',
      );
      t.notOk(chat.stdout.text.includes(ESC), 'no escape codes on a pipe');
      t.notMatch(chat.stdout.text, /-- |elsewhere/, 'stdout is the conversation, of this channel only');
      t.match(chat.stderr.text, /^-- connecting to http:\/\/127\.0\.0\.1:\d+, channel room \(\w+\)\n/);
      chat.child.stdin.end();
      t.equal(await chat.exited, 0);
    });

    t.test('a server restart mid-chat: nothing typed is lost or doubled, and the gap is announced', async (t) => {
      const first = await forkServer(t);
      await publish(first.origin, 'before');
      const chat = spawnChat(t, [first.origin, '--transport', transport, '--name', 'ann']);
      chat.type('typed before\n');
      await chat.stdout.waitFor(/ann: typed before\n/);
      await first.stop();
      chat.type('typed while down 1\n');
      chat.type('typed while down 2\n');
      await chat.stderr.waitFor(/-- (sending again|reconnecting) in \d+s: /);
      const second = await forkServer(t, ['--port', String(first.port)]);
      await chat.stdout.waitFor(/ann: typed while down 2\n/, 20_000);
      t.same(await historyTexts(second.origin), ['ann: typed while down 1', 'ann: typed while down 2'], 'published once each, in order');
      t.same(texts(chat.stdout.text), ['before', 'ann: typed before', 'ann: typed while down 1', 'ann: typed while down 2']);
      t.match(chat.stderr.text, /^-- missed: /m, 'a cursor from the earlier run: the server says messages were missed, and so do we');
      chat.child.stdin.end();
      t.equal(await chat.exited, 0);
    });
  });
}
