import { request as httpRequest } from 'node:http';
import t from 'tap';
import WebSocket from 'ws';
import type { Batch } from '../src/protocol.js';
import { poll, publish, request } from './fixtures/http.js';
import { startRedis } from './fixtures/redis.js';
import { forkServer } from './fixtures/server.js';

const CHANNEL = 'reset';

/** The event stream from `lastEventId` until `until` appears in it (bounded at 5 s): its status and text. */
function events(origin: string, lastEventId: string, until: string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    let text = '';
    let status = 0;
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ status, text });
    }, 5_000);
    const req = httpRequest(
      { host: hostname, port, path: `/events/${CHANNEL}`, headers: { 'last-event-id': lastEventId }, agent: false },
      (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          if (text.includes(until)) {
            clearTimeout(timer);
            req.destroy();
            resolve({ status, text });
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status, text });
        });
      },
    );
    req.on('error', (error) => (status ? undefined : reject(error)));
    req.end();
  });
}

interface Frame {
  type: string;
  text?: string;
  cursor?: string;
}

/** The frames of `/ws?since=…` until one satisfies `done` or the socket closes (bounded at 5 s), and the close code. */
function frames(origin: string, since: string, done: (frame: Frame) => boolean): Promise<{ frames: Frame[]; code?: number }> {
  const ws = new WebSocket(`${origin.replace('http:', 'ws:')}/ws/${CHANNEL}?since=${encodeURIComponent(since)}`);
  const seen: Frame[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), 5_000);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      seen.push(frame);
      if (done(frame)) ws.close();
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ frames: seen, code });
    });
  });
}

t.test(
  'after Redis lost a channel and an instance restarted, an old cursor is missed on every transport, not refused; a malformed one still is',
  async (t) => {
    const redis = await startRedis(t);
    const args = ['--redis', redis.url];
    const [first, other] = await Promise.all([forkServer(t, args), forkServer(t, args)]);
    await publish(first.origin, 'lost 1', CHANNEL);
    const old = await publish(first.origin, 'lost 2', CHANNEL);
    // Redis loses everything (FLUSHALL stands for a failover without persistence) and the instance restarts.
    await redis.command('FLUSHALL');
    t.equal(await first.stop(), 0);
    const again = await forkServer(t, args);

    t.test('before anything new was published: missed, from where the channel stands', async (t) => {
      const json = await poll(again.origin, old, CHANNEL);
      t.same([json.status, JSON.parse(json.body)], [200, { messages: [], missed: true, cursor: '0-0' }], 'JSON long poll');
      const plain = await request(again.origin, `/subscribe/${CHANNEL}?since=${old}`);
      t.same([plain.status, plain.headers['pollcast-missed'], plain.headers['pollcast-cursor']], [204, 'true', '0-0'], 'plain long poll');
      const polled = await request(again.origin, `/messages/${CHANNEL}?since=${old}`);
      t.same([polled.status, JSON.parse(polled.body)], [200, { messages: [], missed: true, cursor: '0-0' }], '/messages');
      const stream = await events(again.origin, old, 'event: missed');
      t.equal(stream.status, 200, '/events with Last-Event-ID opens');
      t.match(stream.text, /event: missed\n/, 'and says missed');
      const ws = await frames(again.origin, old, (frame) => frame.type === 'missed');
      t.same(ws.frames[0], { type: 'missed', cursor: '0-0' }, '/ws says missed');
    });

    t.test('once new messages came: missed, then the new messages', async (t) => {
      const after = await publish(other.origin, 'after', CHANNEL);
      t.not(after.split(':')[0], old.split(':')[0], 'the new stream has another epoch');
      for (const instance of [again, other]) {
        const json = JSON.parse((await poll(instance.origin, old, CHANNEL)).body) as Batch;
        t.same([json.messages.map((m) => m.text), json.missed, json.cursor], [['after'], true, after], 'JSON long poll');
        const plain = await request(instance.origin, `/subscribe/${CHANNEL}?since=${old}`);
        t.same([plain.status, plain.body, plain.headers['pollcast-missed']], [200, 'after', 'true'], 'plain long poll');
        const polled = JSON.parse((await request(instance.origin, `/messages/${CHANNEL}?since=${old}`)).body) as Batch;
        t.same([polled.messages.map((m) => m.text), polled.missed], [['after'], true], '/messages');
        const stream = await events(instance.origin, old, 'data: after\n');
        t.match(stream.text, /event: missed\n[^]*id: \S+\ntime: \d+\ndata: after\n/, '/events: missed, then the new message');
        const ws = await frames(instance.origin, old, (frame) => frame.type === 'message');
        t.same(
          ws.frames.map((frame) => frame.type),
          ['missed', 'message'],
          '/ws: missed, then the new message',
        );
        t.equal(ws.frames[1]!.text, 'after');
      }
    });

    t.test('malformed cursors are still refused', async (t) => {
      for (const since of ['bogus', 'NOT-AN:1-0', 'e1:01-0', `${old}:1`, 'e1:']) {
        for (const path of [`/subscribe/${CHANNEL}`, `/messages/${CHANNEL}`, `/events/${CHANNEL}`]) {
          const answer = await request(again.origin, `${path}?since=${encodeURIComponent(since)}`);
          t.same([answer.status, answer.headers['pollcast-error']], [400, 'bad_cursor'], `${path}?since=${since}`);
        }
        const stream = await events(again.origin, since, 'never');
        t.equal(stream.status, 400, `/events with Last-Event-ID: ${since}`);
        t.equal((await frames(again.origin, since, () => false)).code, 1008, `/ws?since=${since}`);
      }
    });
  },
);
