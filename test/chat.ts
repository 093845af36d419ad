import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { request } from './fixtures/http.js';
import { historyTexts, spawnChat, startAnswerEater, texts } from './fixtures/chat.js';

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
  const stored = JSON.parse((await request(server.origin, '/messages?since=0')).body) as { messages: { text: string; from?: unknown }[] };
  t.same(
    stored.messages.map(({ text, from }) => ({ text, from })),
    [
      { text: 'said once', from: { name: 'ann', verified: false } },
      { text: 'said after', from: { name: 'ann', verified: false } },
    ],
    '--name sets from; the text is the line alone',
  );
  chat.child.stdin.end();
  t.equal(await chat.exited, 0);
});

t.test('--token and POLLCAST_TOKEN open a server that requires tokens; without one, 401 is said plainly', async (t) => {
  const server = await forkServer(t, ['--publish-token', 'sesame', '--subscribe-token', 'sesame']);
  const withFlag = spawnChat(t, [server.origin, '--token', 'sesame', '--name', 'flag']);
  withFlag.type('by flag\n');
  await withFlag.stdout.waitFor(/flag: by flag\n/);
  const withEnv = spawnChat(t, [server.origin, '--name', 'env'], { POLLCAST_TOKEN: 'sesame' });
  withEnv.child.stdin.end('by env\n');
  t.equal(await withEnv.exited, 0);
  await withFlag.stdout.waitFor(/env: by env\n/);
  const without = spawnChat(t, [server.origin, '--name', 'none']);
  without.child.stdin.end('refused\n');
  t.equal(await without.exited, 0, 'a refusal is final: nothing left to wait for');
  t.match(without.stderr.text, /^-- not sent: 401 [^\n]*: refused$/m, 'the line as typed (the name goes as its from)');
  t.match(without.stderr.text, /^-- reconnecting in \d+s: 401 /m);
  t.same(await historyTexts(server.origin, undefined, 'sesame'), ['flag: by flag', 'env: by env']);
  withFlag.child.stdin.end();
  t.equal(await withFlag.exited, 0);
});

t.test('end of input sends every queued line, in order, then exits 0; $USER names the lines', async (t) => {
  const server = await forkServer(t);
  const chat = spawnChat(t, [server.origin], { USER: 'carol' });
  const lines = Array.from({ length: 30 }, (_, n) => `quick ${n}`);
  chat.child.stdin.end(lines.join('\n') + '\n\n');
  t.equal(await chat.exited, 0);
  t.same(
    await historyTexts(server.origin),
    lines.map((line) => `carol: ${line}`),
    'all of them, once, in order; the empty line is not sent',
  );
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
