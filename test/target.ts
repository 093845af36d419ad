import { request as httpRequest } from 'node:http';
import t from 'tap';
import WebSocket from 'ws';
import { forkServer } from './fixtures/server.js';
import { poll, publish, request, waitForWaiting } from './fixtures/http.js';

/** Reading the request target: one rule for `since=` on every transport. */

t.test('an empty since= means "from now" on every transport', async (t) => {
  const { origin } = await forkServer(t);
  await publish(origin, 'old', 'empty');

  t.test('GET /messages', async (t) => {
    const answer = await request(origin, '/messages/empty?since=');
    t.equal(answer.status, 200);
    t.same((JSON.parse(answer.body) as { messages: unknown[] }).messages, []);
  });

  t.test('GET /subscribe', async (t) => {
    const answer = request(origin, '/subscribe/empty?since=', { headers: { accept: 'application/json' } });
    await waitForWaiting(origin, 1);
    await publish(origin, 'for the poll', 'empty');
    const batch = JSON.parse((await answer).body) as { messages: { text: string }[] };
    t.same(
      batch.messages.map((m) => m.text),
      ['for the poll'],
    );
    await waitForWaiting(origin, 0);
  });

  t.test('GET /events', async (t) => {
    const { hostname, port } = new URL(origin);
    let received = '';
    const req = httpRequest({ host: hostname, port, path: '/events/empty?since=', agent: false });
    req.on('error', () => {});
    t.teardown(() => req.destroy());
    const arrived = new Promise<void>((resolve) =>
      req.on('response', (res) => {
        res.setEncoding('utf8');
        res.on('error', () => {});
        res.on('data', (chunk: string) => {
          received += chunk;
          if (received.includes('data: for the stream')) resolve();
        });
      }),
    );
    req.end();
    await waitForWaiting(origin, 1);
    await publish(origin, 'for the stream', 'empty');
    await arrived;
    t.notMatch(received, /data: old|data: for the poll/, 'nothing from before');
    req.destroy();
    await waitForWaiting(origin, 0);
  });

  t.test('WebSocket /ws', async (t) => {
    const ws = new WebSocket(`ws://${new URL(origin).host}/ws/empty?since=`);
    t.teardown(() => ws.terminate());
    const texts: string[] = [];
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; text?: string };
      if (frame.type === 'message') texts.push(frame.text!);
    });
    const opened = await Promise.race([new Promise<boolean>((resolve) => ws.on('open', () => resolve(true))), closed.then(() => false)]);
    t.ok(opened, 'the socket opens');
    await waitForWaiting(origin, 1);
    await publish(origin, 'for the socket', 'empty');
    while (texts.length === 0 && ws.readyState === WebSocket.OPEN) await new Promise((resolve) => setTimeout(resolve, 10));
    t.same(texts, ['for the socket']);
  });

  t.test('since=0 still means everything kept', async (t) => {
    const batch = JSON.parse((await poll(origin, '0', 'empty')).body) as { messages: { text: string }[] };
    t.same(
      batch.messages.map((m) => m.text),
      ['old', 'for the poll', 'for the stream', 'for the socket'],
    );
  });
});
