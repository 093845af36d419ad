/**
 * deploy/nginx.conf in a real nginx on loopback, in front of a forked pollcast:
 * the page, the long poll, SSE and WebSocket through it; a native EventSource
 * (Chromium) that keeps going across a restart of pollcast; and pollcast's
 * own page over TLS + HTTP/2.
 */

import { request as httpRequest } from 'node:http';
import t from 'tap';
import WebSocket from 'ws';
import type { Page } from 'puppeteer-core';
import { launchChromium, publishFromPage, waitFor, waitForMessages } from './fixtures/browser.js';
import { publish, request } from './fixtures/http.js';
import { freePort, startNginx } from './fixtures/nginx.js';
import { forkServer } from './fixtures/server.js';

t.setTimeout(120_000);

const PROXIED = ['--trust-proxy', 'loopback', '--shutdown-grace', '500'];

async function waitingOn(origin: string, count: number): Promise<void> {
  await waitFor(
    `${count} subscriber(s) held`,
    async () => {
      const { waiting } = JSON.parse((await request(origin, '/stats')).body) as { waiting: number };
      return waiting >= count ? true : undefined;
    },
    async () => 'fewer held',
    10_000,
  );
}

/** Opens an event stream and resolves with the `data:` of its first message event. */
function firstEvent(origin: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${origin}${path}`, { headers: { accept: 'text/event-stream' } }, (res) => {
      let seen = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        seen += chunk;
        const data = /\nid: [^\n]+\n(?:time: [^\n]+\n)?data: ([^\n]*)\n/.exec(seen);
        if (data) {
          resolve(data[1]!);
          req.destroy();
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('through nginx: the page, a long poll, an event stream and a WebSocket all carry a message', async (t) => {
  const pollcast = await forkServer(t, PROXIED);
  const nginx = await startNginx(t, pollcast.port);
  const page = await request(nginx.http, '/');
  t.equal(page.status, 200);
  t.match(
    page.headers['content-security-policy'],
    new RegExp(`ws://127\\.0\\.0\\.1:${new URL(nginx.http).port} `),
    'the CSP names the Host the browser used, port included',
  );
  t.equal((await request(nginx.http, '/stats')).status, 404, '/stats is not public through nginx');

  const longPoll = request(nginx.http, '/subscribe/n', { headers: { accept: 'application/json' } });
  const event = firstEvent(nginx.http, '/events/n');
  const socket = new WebSocket(`${nginx.http.replace('http', 'ws')}/ws/n`);
  socket.on('error', () => undefined);
  const frame = new Promise<string>((resolve) =>
    socket.on('message', (data) => {
      const parsed = JSON.parse(String(data)) as { type: string; text?: string };
      if (parsed.type === 'message') resolve(parsed.text!);
    }),
  );
  await waitingOn(pollcast.origin, 3);
  await publish(nginx.http, 'through the proxy', 'n');
  t.equal((JSON.parse((await longPoll).body) as { messages: { text: string }[] }).messages[0]?.text, 'through the proxy', 'long poll');
  t.equal(await event, 'through the proxy', 'event stream');
  t.equal(await frame, 'through the proxy', 'WebSocket');
  socket.close();
});

t.test('while pollcast is down, /events through nginx is a dropped connection, not a 502; /subscribe a 503 with Retry-After', async (t) => {
  const port = await freePort();
  const nginx = await startNginx(t, port);
  const refused = await request(nginx.http, '/events/x').then(
    (answer) => `answered ${answer.status}`,
    (error: NodeJS.ErrnoException) => error.code,
  );
  t.equal(refused, 'ECONNRESET', 'dropped: an EventSource retries on that, where it would stop for good on a 502');
  const poll = await request(nginx.http, '/subscribe/x');
  t.equal(poll.status, 503);
  t.equal(poll.headers['retry-after'], '1');
});

t.test("Chromium's native EventSource keeps going across a restart of pollcast behind nginx", async (t) => {
  const port = await freePort();
  let pollcast = await forkServer(t, ['--port', String(port), ...PROXIED]);
  const nginx = await startNginx(t, port);
  const launched = await launchChromium();
  t.teardown(() => launched.close());
  const page: Page = await launched.browser.newPage();
  await page.goto(`${nginx.http}/`);
  await page.evaluate(() => {
    const state = window as unknown as { got: string[]; source: EventSource };
    state.got = [];
    state.source = new EventSource('/events/restart');
    state.source.onmessage = (event) => state.got.push(event.data as string);
  });
  const got = () => page.evaluate(() => (window as unknown as { got: string[] }).got);
  const readyState = () => page.evaluate(() => (window as unknown as { source: EventSource }).source.readyState);
  await waitingOn(pollcast.origin, 1);
  await publish(nginx.http, 'before', 'restart');
  await waitFor(
    '"before"',
    async () => ((await got()).includes('before') ? true : undefined),
    async () => JSON.stringify(await got()),
    10_000,
  );

  await pollcast.stop();
  // Its retry (2 s) meets nginx while pollcast is down: dropped, so it tries again.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  t.not(await readyState(), 2, 'not CLOSED while pollcast is down');
  pollcast = await forkServer(t, ['--port', String(port), ...PROXIED]);
  await waitingOn(pollcast.origin, 1);
  await publish(nginx.http, 'after', 'restart');
  await waitFor(
    '"after"',
    async () => ((await got()).includes('after') ? true : undefined),
    async () => `${JSON.stringify(await got())}, readyState ${await readyState()}`,
    15_000,
  );
  t.same(await got(), ['before', 'after']);
  t.notMatch(await nginx.errors(), /\[(emerg|alert|crit)\]/);
});

t.test("TLS + HTTP/2 at nginx: pollcast's own page works over it", async (t) => {
  const pollcast = await forkServer(t, PROXIED);
  const nginx = await startNginx(t, pollcast.port);
  const launched = await launchChromium(['--ignore-certificate-errors']);
  t.teardown(() => launched.close());
  const page = await launched.browser.newPage();
  await page.goto(`${nginx.https}/`);
  t.equal(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol), 'h2');
  await publishFromPage(page, 'over h2');
  t.same(await waitForMessages(page, 1, 15_000), ['over h2']);
});
