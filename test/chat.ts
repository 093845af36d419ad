import t from 'tap';
import { TRANSPORTS } from '../src/client/feed.js';
import { forkServer } from './fixtures/server.js';
import { publish } from './fixtures/http.js';
import { historyTexts, spawnChat, startAnswerEater, texts } from './fixtures/chat.js';

const ESC = '\x1b';

t.test('bad flags and URLs exit 2 with a one-line reason and the usage on stderr', async (t) => {
  for (const [args, reason] of [
    [['--bogus'], "pollcast chat: Unknown option '--bogus'"],
    [['--transport', 'pigeon'], 'pollcast chat: --transport must be one of longpoll, eventsource, websocket, poll, got "pigeon"'],
    [['ftp://127.0.0.1/'], 'pollcast chat: the URL must be http: or https:, got "ftp://127.0.0.1/"'],
    [['--channel', '../etc'], 'pollcast chat: --channel must be 1 to 64 of A-Z a-z 0-9 _ -, got "../etc"'],
  ] as const) {
    const chat = spawnChat(t, [...args]);
    chat.child.stdin.end();
    t.equal(await chat.exited, 2, args.join(' '));
    const [first, blank, usage] = chat.stderr.text.split('\n');
    t.equal(first, reason);
    t.equal(blank, '');
    t.match(usage, /^usage: pollcast chat \[URL\]/);
    t.equal(chat.stdout.text, '', 'nothing on stdout');
  }
});

t.test('--help prints the usage on stdout and exits 0', async (t) => {
  const chat = spawnChat(t, ['--help']);
  t.equal(await chat.exited, 0);
  t.match(chat.stdout.text, /^usage: pollcast chat \[URL\] \[options\]\n/);
  t.match(chat.stdout.text, /--transport T +longpoll, eventsource, websocket, poll/);
});

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
      t.same(await historyTexts(server.origin, 'room'), ['old 1', 'old\ntwo lines', 'from bob', ...typed], 'each line stored once, in order');
      t.same(texts(chat.stdout.text), ['old 1', 'old', 'from bob', ...typed], 'shown once each, in the order of the channel');
      t.match(chat.stdout.text, /^\[(\d\d:\d\d:\d\d|--:--:--)\] old\n {11}two lines\n/m, 'the second line of a message indented under the first');
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

t.test('a publish whose answer is lost is retried with its key and stored once', async (t) => {
  const server = await forkServer(t);
  const proxy = await startAnswerEater(t, server.port, 2);
  const chat = spawnChat(t, [proxy.origin, '--name', 'ann']);
  chat.type('said once\n');
  chat.type('said after\n');
  await chat.stdout.waitFor(/ann: said after\n/);
  t.equal(proxy.lost, 2, 'two answers were lost on the way');
  t.match(chat.stderr.text, /^-- sending again in \d+s: network error/m);
  t.same(await historyTexts(server.origin), ['ann: said once', 'ann: said after'], 'stored once each, in order');
  t.same(texts(chat.stdout.text), ['ann: said once', 'ann: said after'], 'and shown once each');
  chat.child.stdin.end();
  t.equal(await chat.exited, 0);
});

t.test('end of input sends every queued line, in order, then exits 0; $USER names the lines', async (t) => {
  const server = await forkServer(t);
  const chat = spawnChat(t, [server.origin], { USER: 'carol' });
  const lines = Array.from({ length: 30 }, (_, n) => `quick ${n}`);
  chat.child.stdin.end(lines.join('\n') + '\n\n');
  t.equal(await chat.exited, 0);
  t.same(await historyTexts(server.origin), lines.map((line) => `carol: ${line}`), 'all of them, once, in order; the empty line is not sent');
});

t.test("--name '' publishes bare lines; a refused line prints one error and the next still goes", async (t) => {
  const server = await forkServer(t, ['--max-body', '10']);
  const chat = spawnChat(t, [server.origin, '--name', ''], { USER: 'carol' });
  chat.child.stdin.end('this line is too long\nshort\n');
  t.equal(await chat.exited, 0);
  t.same(await historyTexts(server.origin), ['short']);
  t.match(chat.stderr.text, /^-- not sent: 413 [^\n]+: this line is too long$/m);
});

t.test('end of input while the server stays down: gives up after 10 s with an error, exit 1', async (t) => {
  const server = await forkServer(t);
  const chat = spawnChat(t, [server.origin]);
  await chat.stderr.waitFor(/^-- live$/m);
  await server.stop();
  chat.child.stdin.end('nobody hears this\n');
  t.equal(await chat.exited, 1);
  t.match(chat.stderr.text, /^-- gave up after 10s: 1 line\(s\) not sent$/m);
});

t.test('SIGINT exits at once', async (t) => {
  const server = await forkServer(t);
  const chat = spawnChat(t, [server.origin]);
  await chat.stderr.waitFor(/^-- live$/m);
  chat.child.kill('SIGINT');
  t.equal(await chat.exited, 130);
});
