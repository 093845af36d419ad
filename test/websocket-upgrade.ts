import { connect } from 'node:net';
import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { poll, publish, rawExchange, request } from './fixtures/http.js';
import { RawWebSocket } from './fixtures/ws-raw.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function upgrade(path: string, headers: Record<string, string>, method = 'GET'): string {
  const lines = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `${method} ${path} HTTP/1.1\r\nHost: x\r\n${lines}\r\n`;
}

const WEBSOCKET = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': KEY };

/** Upgrades the WebSocket handshake refuses, each with the answer it gets. */
const REFUSED: [string, string, RegExp][] = [
  [
    'no Sec-WebSocket-Key',
    upgrade('/ws', { ...WEBSOCKET, 'Sec-WebSocket-Key': '' }),
    /^HTTP\/1\.1 400 (?=[^]*pollcast-error: bad_request)(?=[^]*x-content-type-options: nosniff)/,
  ],
  [
    'a malformed Sec-WebSocket-Key',
    upgrade('/ws/room', { ...WEBSOCKET, 'Sec-WebSocket-Key': 'not base64 of 16 bytes' }),
    /^HTTP\/1\.1 400 [^]*pollcast-error: bad_request/,
  ],
  [
    'version 12',
    upgrade('/ws', { ...WEBSOCKET, 'Sec-WebSocket-Version': '12' }),
    /^HTTP\/1\.1 426 [^]*sec-websocket-version: 13\r\n[^]*pollcast-error: upgrade_required/i,
  ],
  ['no version', upgrade('/ws', { ...WEBSOCKET, 'Sec-WebSocket-Version': '' }), /^HTTP\/1\.1 426 [^]*pollcast-error: upgrade_required/],
  [
    'bad subprotocols',
    upgrade('/ws', { ...WEBSOCKET, 'Sec-WebSocket-Protocol': 'chat,,chat v2' }),
    /^HTTP\/1\.1 400 [^]*pollcast-error: bad_request/,
  ],
  [
    'a repeated subprotocol',
    upgrade('/ws', { ...WEBSOCKET, 'Sec-WebSocket-Protocol': 'chat, chat' }),
    /^HTTP\/1\.1 400 [^]*pollcast-error: bad_request/,
  ],
  ['a POST upgrade', upgrade('/ws', WEBSOCKET, 'POST'), /^HTTP\/1\.1 405 [^]*allow: GET/i],
  ['an upgrade to something else', upgrade('/ws', { ...WEBSOCKET, Upgrade: 'h2c' }), /^HTTP\/1\.1 426 [^]*upgrade: websocket/i],
];

t.test('refused upgrades give their waiting-room place back: the address can still poll', async (t) => {
  const { origin } = await forkServer(t, ['--max-waiting-per-client', '3', '--poll-timeout', '2000']);
  for (let round = 0; round < 5; round++) {
    for (const [what, bytes, answer] of REFUSED)
      t.match(await rawExchange(origin, bytes), answer, `${what} is refused (round ${round + 1})`);
  }
  await publish(origin, 'after the refusals', 'room');
  const answer = await poll(origin, '0', 'room');
  t.equal(answer.status, 200, 'a poll from the same address is let in');
  t.match(JSON.parse(answer.body), { messages: [{ text: 'after the refusals' }] });
});

t.test('upgrades cut mid-handshake give their places back too', async (t) => {
  const { origin, port } = await forkServer(t, ['--max-waiting-per-client', '3', '--poll-timeout', '2000']);
  // The first upgrades arrive while ws is still being loaded: hang up before the server can answer.
  for (let i = 0; i < 12; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(upgrade(`/ws/cut?since=0`, WEBSOCKET), () => socket.resetAndDestroy());
  }
  const socket = await RawWebSocket.open(port, '/ws/cut?since=0');
  socket.socket.destroy();
  await publish(origin, 'x', 'cut-check');
  // Places come back as the server sees each socket close: give it a moment, not for ever.
  const deadline = Date.now() + 3_000;
  let status = 0;
  while (status !== 200 && Date.now() < deadline) {
    status = (await poll(origin, '0', 'cut-check')).status;
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.equal(status, 200, 'the address can still poll');
});

t.test('GET /ws without upgrade headers answers 426 and says to upgrade', async (t) => {
  const { origin } = await forkServer(t);
  for (const path of ['/ws', '/ws/room?since=0']) {
    const answer = await request(origin, path);
    t.equal(answer.status, 426, path);
    t.equal(answer.headers.upgrade, 'websocket');
    t.match(answer.headers.connection, /upgrade/i);
    t.equal(answer.headers['pollcast-error'], 'upgrade_required');
    t.match(answer.body, /^[^\n]*websocket[^\n]*\n$/i, 'a one-line reason');
  }
  const post = await request(origin, '/ws', { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET');
  t.equal((await request(origin, '/ws/bad%20name')).status, 400, 'a bad channel is still a 400');
});
