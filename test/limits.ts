import { connect } from 'node:net';
import t from 'tap';
import { CHANNEL_OVERHEAD, messageCost } from '../src/footprint.js';
import { forkServer } from './fixtures/server.js';
import { poll, publish, request, waitForWaiting } from './fixtures/http.js';

const stats = async (origin: string) => JSON.parse((await request(origin, '/stats')).body) as Record<string, number>;

t.test('held polls beyond the total limit get 503 with Retry-After', async (t) => {
  const { origin } = await forkServer(t, ['--max-waiting', '3', '--poll-timeout', '60000']);
  const held = [1, 2, 3].map(() => request(origin, '/subscribe'));
  await waitForWaiting(origin, 3);
  const refused = await request(origin, '/subscribe');
  t.equal(refused.status, 503);
  t.equal(refused.headers['retry-after'], '5');
  t.equal(refused.headers['pollcast-error'], 'too_many_waiting');
  t.equal(refused.body, 'too many subscribers are waiting; try again later\n');
  await publish(origin, 'free them');
  for (const answer of await Promise.all(held)) t.equal(answer.body, 'free them');
  const again = request(origin, '/subscribe');
  await waitForWaiting(origin, 1);
  await publish(origin, 'places come back');
  t.equal((await again).body, 'places come back');
});

t.test('held polls beyond the per-client limit get 503, other limits untouched', async (t) => {
  const { origin } = await forkServer(t, ['--max-waiting-per-client', '2', '--poll-timeout', '60000']);
  const controllers = [new AbortController(), new AbortController()];
  const held = controllers.map((c) => poll(origin, undefined, 'room', c.signal).catch(() => 'gone'));
  await waitForWaiting(origin, 2);
  t.equal((await request(origin, '/subscribe')).status, 503);
  controllers[0]!.abort();
  await held[0];
  await waitForWaiting(origin, 1);
  const third = request(origin, '/subscribe/room');
  await waitForWaiting(origin, 2);
  await publish(origin, 'ok', 'room');
  t.equal((await third).body, 'ok', 'a place freed by a disconnect is given again');
  await held[1];
});

t.test('publishes beyond the rate get 429 with Retry-After, and nothing is stored', async (t) => {
  const { origin } = await forkServer(t, ['--publish-rate', '1', '--publish-burst', '2']);
  t.equal((await request(origin, '/publish', { method: 'POST', body: 'one' })).status, 200);
  t.equal((await request(origin, '/publish', { method: 'POST', body: 'two' })).status, 200);
  const limited = await request(origin, '/publish', { method: 'POST', body: 'three' });
  t.equal(limited.status, 429);
  t.equal(limited.headers['pollcast-error'], 'rate_limited');
  t.match(limited.headers['retry-after'], /^[12]$/);
  t.equal(limited.headers.connection, 'close', 'the unread body ends the connection');
  t.equal((await stats(origin)).published, 2);
});

t.test('history is bounded in bytes, and a cursor from before the eviction is told it missed', async (t) => {
  // Room for two channels of one message each, charged at their cost.
  const budget = 2 * CHANNEL_OVERHEAD + 2 * messageCost('aaaaa');
  const { origin } = await forkServer(t, ['--history-bytes', String(budget)]);
  const first = await publish(origin, 'aaaaa', 'one');
  await publish(origin, 'bbbbb', 'two');
  await publish(origin, 'ccccc', 'one');
  t.equal((await stats(origin)).bytes, budget);
  const batch = JSON.parse((await poll(origin, first, 'one')).body) as { messages: { text: string }[]; missed: boolean };
  t.same(
    batch.messages.map((m) => m.text),
    ['ccccc'],
  );
  t.equal(batch.missed, false, 'first itself was the evicted one, nothing after it was lost');
  const zero = await poll(origin, '0', 'two');
  t.same(
    (JSON.parse(zero.body) as { messages: { text: string }[] }).messages.map((m) => m.text),
    ['bbbbb'],
  );
  await publish(origin, 'ddddd', 'three');
  const lost = JSON.parse((await poll(origin, first, 'two')).body) as { missed: boolean };
  t.equal(lost.missed, true, 'bbbbb was evicted: missed');
});

t.test('channels are bounded; when every channel has waiters a new one gets 503', async (t) => {
  const { origin } = await forkServer(t, ['--max-channels', '2', '--poll-timeout', '60000']);
  const a = request(origin, '/subscribe/a');
  const b = request(origin, '/subscribe/b');
  await waitForWaiting(origin, 2);
  const refused = await request(origin, '/publish/c', { method: 'POST', body: 'x' });
  t.equal(refused.status, 503);
  t.equal(refused.headers['pollcast-error'], 'too_many_channels');
  t.equal((await request(origin, '/subscribe/c')).status, 503);
  await publish(origin, 'to a', 'a');
  await publish(origin, 'to b', 'b');
  await Promise.all([a, b]);
  t.equal((await request(origin, '/publish/c', { method: 'POST', body: 'x' })).status, 200, 'idle channels make room');
  t.equal((await stats(origin)).channels, 2);
});

/**
 * Sends `pieces` one every `everyMs` on a fresh socket, until the server
 * closes it (or `giveUpMs` passes); resolves with what came back and when.
 */
async function trickle(t: { teardown(fn: () => void): void }, port: number, pieces: string[], everyMs: number, giveUpMs = 30_000) {
  const socket = connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  let reply = '';
  socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
  const started = Date.now();
  const closed = new Promise((resolve) => socket.once('close', resolve));
  let sent = 0;
  const timer = setInterval(() => {
    if (!socket.destroyed && sent < pieces.length) socket.write(pieces[sent++]!);
  }, everyMs);
  const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
  await closed;
  clearInterval(timer);
  clearTimeout(giveUp);
  return { reply, sent, ms: Date.now() - started };
}

t.test('a client that trickles its headers is cut off at the headers timeout', async (t) => {
  const { port } = await forkServer(t, ['--headers-timeout', '1000']);
  const head = [...('GET /stats HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200))];
  const { reply, sent, ms } = await trickle(t, port, head, 100);
  t.ok(sent < head.length, 'cut off before it finished');
  t.match(reply, /^HTTP\/1\.1 408 [^]*request took too long to arrive\n$/);
  t.match(reply, /\r\npollcast-error: request_timeout\r\n/i, 'with its stable code');
  t.ok(ms < 10_000, "within the timeout and one check interval, not Node's minutes");
});

t.test('by default a trickling client is cut off within 20 s', async (t) => {
  const { port } = await forkServer(t);
  // Whole header lines, slowly: each is progress, but the headers never end.
  const lines = ['GET / HTTP/1.1\r\n', ...Array<string>(100).fill('X-A: b\r\n')];
  const { reply, ms } = await trickle(t, port, lines, 500);
  t.ok(ms < 20_000, `cut after ${ms} ms`);
  t.match(reply, /^HTTP\/1\.1 408 /);
});

t.test('the request timeout does not cut a long poll that is waiting for its answer', async (t) => {
  const { origin } = await forkServer(t, ['--headers-timeout', '300', '--request-timeout', '500', '--poll-timeout', '3000']);
  const answer = await request(origin, '/subscribe');
  t.equal(answer.status, 204, 'held for the whole poll timeout');
});

t.test('a slow reader of a large answer does not delay anyone else', async (t) => {
  // One answer may carry the whole 2.4 MB here.
  const { origin, port } = await forkServer(t, ['--max-body', '65536', '--stream-buffer', '4194304']);
  const big = 'x'.repeat(60_000);
  for (let i = 0; i < 40; i++) await publish(origin, big, 'heavy');
  const slow = connect(port, '127.0.0.1');
  t.teardown(() => slow.destroy());
  await new Promise((resolve) => slow.once('connect', resolve));
  slow.pause();
  slow.write('GET /subscribe/heavy?since=0 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n');
  const others = [request(origin, '/subscribe/heavy'), request(origin, '/subscribe/light')];
  await waitForWaiting(origin, 2);
  await publish(origin, 'heavy news', 'heavy');
  await publish(origin, 'light news', 'light');
  t.same(
    (await Promise.all(others)).map((a) => a.body),
    ['heavy news', 'light news'],
  );
  slow.resume();
  const all = await new Promise<number>((resolve) => {
    let received = 0;
    slow.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > 40 * 60_000) resolve(received);
    });
  });
  t.ok(all > 40 * 60_000, 'and the slow reader still gets all of it');
});
