import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import t from 'tap';
import { forkServer } from './fixtures/server.js';
import { publish, request, waitForWaiting } from './fixtures/http.js';
import { until } from './fixtures/wait.js';

interface Event {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: string;
}

/** An event-stream reader over a real request: parses frames as they come, dispatching like EventSource. */
function openStream(origin: string, path: string, headers: Record<string, string> = {}) {
  const { hostname, port } = new URL(origin);
  const events: Event[] = [];
  let comments = 0;
  let lastEventId = '';
  let buffered = '';
  let res: IncomingMessage | undefined;
  const req = httpRequest({ host: hostname, port, path, headers, agent: false });
  const opened = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', (answer) => {
      res = answer;
      answer.setEncoding('utf8');
      answer.on('data', (chunk: string) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) comments++;
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) lastEventId = line.slice(4);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ event, id: lastEventId, data: data.join('\n') });
        }
      });
      resolve(answer);
    });
    req.on('error', reject);
  });
  req.end();
  const ended = opened.then((answer) => new Promise<void>((resolve) => answer.once('close', () => resolve())));
  return {
    events,
    opened,
    ended,
    comments: () => comments,
    lastEventId: () => lastEventId,
    texts: () => events.filter((e) => e.event === 'message').map((e) => e.data),
    close: () => (res ? res.destroy() : req.destroy()),
  };
}

t.test('GET /events streams the history and then each message, framed for EventSource', async (t) => {
  const { origin } = await forkServer(t);
  await publish(origin, 'before\nthe stream', 'room');
  const stream = openStream(origin, '/events/room?since=0');
  t.teardown(stream.close);
  const res = await stream.opened;
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'text/event-stream;charset=utf-8');
  t.equal(res.headers['cache-control'], 'no-store');
  await until(() => stream.texts().length === 1, 'the history');
  await waitForWaiting(origin, 1);
  const id = await publish(origin, 'ünïcødé 😀\r\n\r\nwith an empty line', 'room');
  await until(() => stream.texts().length === 2, 'the live message');
  t.same(stream.texts(), ['before\nthe stream', 'ünïcødé 😀\n\nwith an empty line']);
  t.equal(stream.events[1]!.id, id, 'the id is the cursor');
  const stats = JSON.parse((await request(origin, '/stats')).body) as { waiting: number };
  t.equal(stats.waiting, 1, 'a stream counts as a waiting subscriber');
});

t.test('a reconnect with Last-Event-ID resumes after it, with nothing lost or doubled', async (t) => {
  const { origin } = await forkServer(t);
  const first = openStream(origin, '/events/resume?since=0');
  t.teardown(first.close);
  await first.opened;
  await waitForWaiting(origin, 1);
  await publish(origin, 'one', 'resume');
  await until(() => first.texts().length === 1, 'one');
  first.close();
  await waitForWaiting(origin, 0);
  await publish(origin, 'two', 'resume');
  await publish(origin, 'three', 'resume');
  const again = openStream(origin, '/events/resume?since=0', { 'last-event-id': first.lastEventId() });
  t.teardown(again.close);
  await until(() => again.texts().length === 2, 'the two missed while away');
  t.same(again.texts(), ['two', 'three'], 'Last-Event-ID wins over since=0');
});

t.test('a stream opened without since starts from now, and its first id already marks the place', async (t) => {
  const { origin } = await forkServer(t);
  await publish(origin, 'old', 'now');
  const stream = openStream(origin, '/events/now');
  t.teardown(stream.close);
  await stream.opened;
  await until(() => stream.lastEventId() !== '', 'the opening id');
  stream.close();
  await waitForWaiting(origin, 0);
  await publish(origin, 'while away', 'now');
  const again = openStream(origin, '/events/now', { 'last-event-id': stream.lastEventId() });
  t.teardown(again.close);
  await until(() => again.texts().length === 1, 'the message published while away');
  t.same(again.texts(), ['while away']);
});

t.test('missed is an event of its own', async (t) => {
  const { origin } = await forkServer(t, ['--history', '2']);
  const first = await publish(origin, 'a', 'gap');
  for (const text of ['b', 'c', 'd']) await publish(origin, text, 'gap');
  const stream = openStream(origin, `/events/gap?since=${first}`);
  t.teardown(stream.close);
  await until(() => stream.texts().length === 2, 'what is kept');
  t.equal(stream.events[0]!.event, 'missed');
  t.same(stream.texts(), ['c', 'd']);
});

t.test('a comment heartbeat keeps an idle stream alive', async (t) => {
  const { origin } = await forkServer(t, ['--heartbeat', '100']);
  const stream = openStream(origin, '/events/quiet');
  t.teardown(stream.close);
  await stream.opened;
  await until(() => stream.comments() >= 2, 'two heartbeats');
  t.pass('heartbeats arrive');
});

t.test('a reader that stops reading is cut after --write-timeout (to resume from its Last-Event-ID) without slowing anyone', async (t) => {
  const { origin, port } = await forkServer(t, ['--stream-buffer', '65536', '--max-body', '65536', '--write-timeout', '1000']);
  const slow = connect(port, '127.0.0.1');
  t.teardown(() => slow.destroy());
  await new Promise((resolve) => slow.once('connect', resolve));
  slow.write('GET /events/flood?since=0 HTTP/1.1\r\nHost: x\r\n\r\n');
  slow.pause();
  const fast = openStream(origin, '/events/flood?since=0');
  t.teardown(fast.close);
  await fast.opened;
  await waitForWaiting(origin, 2);
  const big = 'x'.repeat(60_000);
  // Enough to fill the kernel's socket buffers too (loopback grows them to several MB).
  for (let i = 0; i < 250; i++) await publish(origin, `${i} ${big}`, 'flood');
  await until(() => fast.texts().length === 250, 'every message at the fast reader', 20_000);
  const deadline = Date.now() + 10_000;
  while ((JSON.parse((await request(origin, '/stats')).body) as { outbound: { cut: number } }).outbound.cut === 0) {
    if (Date.now() > deadline) throw new Error('the stalled stream was never cut');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.pass('the stalled stream was dropped while the fast one got everything');
  const closed = new Promise((resolve) => slow.once('close', resolve));
  slow.resume();
  await closed;
});

t.test('a backlog larger than --stream-buffer flows from since=0 in pieces: every message, in order, once', async (t) => {
  const { origin } = await forkServer(t, ['--stream-buffer', '262144']);
  const ids: string[] = [];
  // About 2.4 MB of history: nine times the per-connection cap.
  for (let i = 0; i < 40; i++) ids.push(await publish(origin, `${i} ${'x'.repeat(60_000)}`, 'backlog'));
  const stream = openStream(origin, '/events/backlog?since=0');
  t.teardown(stream.close);
  let ended = false;
  void stream.ended.then(() => (ended = true));
  await until(() => stream.texts().length === ids.length || ended, 'the whole backlog', 20_000);
  t.notOk(ended, 'the stream stays open');
  t.same(
    stream.events.map((e) => e.id),
    ids,
  );
  t.same(
    stream.texts().map((text) => text.slice(0, text.indexOf(' '))),
    ids.map((_, i) => String(i)),
  );
  const live = await publish(origin, 'after the backlog', 'backlog');
  await until(() => stream.texts().length === ids.length + 1, 'the next message');
  t.equal(stream.lastEventId(), live);
});

t.test('streams count against the waiting limits, and end cleanly on shutdown', async (t) => {
  const server = await forkServer(t, ['--max-waiting', '1']);
  const stream = openStream(server.origin, '/events');
  await stream.opened;
  await waitForWaiting(server.origin, 1);
  const refused = await request(server.origin, '/events');
  t.equal(refused.status, 503);
  server.child.send('shutdown');
  await stream.ended;
  t.equal(await server.exited, 0);
});

t.test('bad requests get the usual answers', async (t) => {
  const { origin } = await forkServer(t, ['--subscribe-token', 'reader']);
  t.equal((await request(origin, '/events')).status, 401);
  t.equal((await request(origin, '/events?since=nonsense&access_token=reader')).status, 400);
  t.equal((await request(origin, '/events/bad%20name?access_token=reader')).status, 400);
  t.equal((await request(origin, '/events', { method: 'POST', body: 'x' })).status, 405);
});
