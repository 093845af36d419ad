import t from 'tap';
import { DEFAULT_URL, UsageError, parseChatArgs } from '../src/chat/args.js';

t.test('defaults: the local server, channel default, longpoll, $USER as the name', async (t) => {
  t.same(parseChatArgs([], { USER: 'ada' }), {
    base: DEFAULT_URL,
    channel: 'default',
    transport: 'longpoll',
    name: 'ada',
    token: undefined,
  });
  t.equal(parseChatArgs([], {})?.name, '', 'no $USER: no name');
});

t.test('URL, --channel, --name, --token and POLLCAST_TOKEN', async (t) => {
  const options = parseChatArgs(['http://127.0.0.1:9000/', '--channel', 'news', '--name', 'bob', '--token', 'sesame'], {
    USER: 'ada',
    POLLCAST_TOKEN: 'env',
  });
  t.same(options, { base: 'http://127.0.0.1:9000', channel: 'news', transport: 'longpoll', name: 'bob', token: 'sesame' });
  t.equal(parseChatArgs([], { POLLCAST_TOKEN: 'env' })?.token, 'env', 'the environment when no flag');
  t.equal(parseChatArgs(['--name', ''], { USER: 'ada' })?.name, '', "--name '' publishes bare lines");
  t.equal(parseChatArgs(['https://chat.example/pollcast//'], {})?.base, 'https://chat.example/pollcast', 'a path prefix is kept');
});

t.test('--channel a,b names several rooms: all are read, lines go to the first', async (t) => {
  const options = parseChatArgs(['--channel', 'news,sport'], {});
  t.equal(options?.channel, 'news');
  t.same(options?.channels, ['news', 'sport']);
  t.equal(parseChatArgs(['--channel', 'news'], {})?.channels, undefined, 'one channel stays the single-channel form');
  t.throws(() => parseChatArgs(['--channel', 'news,news'], {}), /--channel names a channel twice/);
  t.throws(() => parseChatArgs(['--channel', 'news,'], {}), /--channel must be/);
});

t.test('-h and --help ask for the usage', async (t) => {
  t.equal(parseChatArgs(['-h'], {}), null);
  t.equal(parseChatArgs(['http://127.0.0.1:9000', '--help'], {}), null);
});

t.test('mistakes are UsageErrors with a one-line reason', async (t) => {
  for (const [argv, reason] of [
    [['--bogus'], /^Unknown option '--bogus'$/],
    [['--channel', 'no spaces'], /--channel must be/],
    [['--transport', 'pigeon'], /--transport must be one of .*longpoll/],
    [['not a url'], /not a URL: "not a url"/],
    [['ftp://127.0.0.1/'], /must be http: or https:/],
    [['http://127.0.0.1/?channel=x'], /no query, fragment or credentials/],
    [['http://a:b@127.0.0.1/'], /no query, fragment or credentials/],
    [['http://127.0.0.1/', 'http://127.0.0.2/'], /one URL at most, got 2/],
    [['--name'], /argument missing/],
  ] as const) {
    t.throws(() => parseChatArgs(argv, {}), UsageError, argv.join(' '));
    t.throws(() => parseChatArgs(argv, {}), { message: reason }, argv.join(' '));
  }
});
