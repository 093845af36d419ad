import { Agent, get } from 'node:http';
import { connect } from 'node:net';
import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { poll, request, waitForWaiting } from './fixtures/http.js';

/** Rejects if the child has not exited within `ms`: a bound on shutdown, not a speed test. */
function exitWithin(exited: Promise<number | null>, ms: number): Promise<number | null> {
  return Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms))]);
}

const STOPS: [string, (child: import('node:child_process').ChildProcess) => void][] = [
  ["IPC 'shutdown'", (child) => child.send('shutdown')],
  ['SIGTERM', (child) => child.kill('SIGTERM')],
  ['SIGINT', (child) => child.kill('SIGINT')],
];

for (const [name, stop] of STOPS) {
  t.test(`${name} answers every waiting subscriber and exits 0`, async (t) => {
    const server = await forkServer(t, ['--poll-timeout', '60000']);
    const polls = [poll(server.origin, undefined), poll(server.origin, undefined, 'other'), request(server.origin, '/subscribe')];
    await waitForWaiting(server.origin, 3);
    stop(server.child);
    for (const answer of await Promise.all(polls)) {
      t.equal(answer.status, 503);
      t.equal(answer.headers['retry-after'], '1');
      t.equal(answer.headers.connection, 'close');
      t.equal(answer.body, 'server is shutting down\n');
    }
    t.equal(await exitWithin(server.exited, 10_000), 0);
    await t.rejects(request(server.origin, '/stats'), { code: 'ECONNREFUSED' }, 'no longer listening');
  });
}

t.test('idle keep-alive connections do not hold the process open', async (t) => {
  const server = await forkServer(t, ['--shutdown-grace', '60000']);
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  await new Promise<void>((resolve) => {
    get({ host: '127.0.0.1', port: server.port, path: '/stats', agent }, (res) => res.resume().on('end', resolve));
  });
  server.child.send('shutdown');
  t.equal(await exitWithin(server.exited, 10_000), 0, 'exits long before the 60 s grace');
});

t.test('a request still in flight after the grace period is cut and the process exits', async (t) => {
  const server = await forkServer(t, ['--shutdown-grace', '300']);
  const socket = connect(server.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  // A publish whose body never completes.
  socket.write('POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nstarted');
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 100));
  server.child.send('shutdown');
  await closed;
  t.pass('the stuck connection was closed');
  t.equal(await exitWithin(server.exited, 10_000), 0);
});

t.test('a publish whose body is still arriving when shutdown begins is refused, never acknowledged', async (t) => {
  const server = await forkServer(t, ['--shutdown-grace', '2000']);
  const socket = connect(server.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write('POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab');
  await new Promise((resolve) => setTimeout(resolve, 100));
  server.child.send('shutdown');
  await new Promise((resolve) => setTimeout(resolve, 200));
  let reply = '';
  socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write('cde');
  await closed;
  t.match(reply, /^HTTP\/1\.1 503 [^]*connection: close[^]*server is shutting down/i);
  t.equal(await exitWithin(server.exited, 10_000), 0);
});

t.test('a parent that disconnects stops the server', async (t) => {
  const server = await forkServer(t);
  server.child.disconnect();
  t.equal(await exitWithin(server.exited, 10_000), 0);
});
