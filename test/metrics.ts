import { fork } from 'node:child_process';
import { connect, createServer } from 'node:net';
import t from 'tap';
import { CLI, forkServer } from './fixtures/server.js';
import { publish, request } from './fixtures/http.js';
import { startRedis } from './fixtures/redis.js';

/** The value of one sample line of a Prometheus text answer, or undefined. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((row) => row.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('/metrics counts held polls by transport, publishes, deliveries, refusals, budgets and process metrics', async (t) => {
  const { origin } = await forkServer(t, ['--max-body', '4']);
  const held = new AbortController();
  const parked = request(origin, '/subscribe/m', { signal: held.signal }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 200));
  let text = (await request(origin, '/metrics')).body;
  t.equal(sample(text, 'pollcast_held{transport="longpoll"}'), 1, 'one long poll held');
  t.equal(sample(text, 'pollcast_held{transport="sse"}'), 0);
  await publish(origin, 'hey', 'm');
  await parked;
  t.equal((await request(origin, '/publish/m', { method: 'POST', body: 'too long' })).status, 413);
  t.equal((await request(origin, '/subscribe/m?since=nope')).status, 400);
  const answer = await request(origin, '/metrics');
  t.equal(answer.status, 200);
  t.match(answer.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  text = answer.body;
  t.equal(sample(text, 'pollcast_held{transport="longpoll"}'), 0, 'let go once answered');
  t.equal(sample(text, 'pollcast_published_total'), 1);
  t.equal(sample(text, 'pollcast_delivered_total'), 1);
  t.equal(sample(text, 'pollcast_refused_total{code="body_too_large"}'), 1);
  t.equal(sample(text, 'pollcast_refused_total{code="bad_cursor"}'), 1);
  const { bytes } = JSON.parse((await request(origin, '/stats')).body) as { bytes: number };
  t.ok(bytes > 3, 'history charges "hey" at its cost, more than its three bytes');
  t.equal(sample(text, 'pollcast_budget_bytes{budget="history"}'), bytes, 'the history budget as /stats counts it');
  t.equal(sample(text, 'pollcast_budget_limit_bytes{budget="history"}'), 64 * 1024 * 1024);
  t.equal(sample(text, 'pollcast_publish_to_write_seconds_count{transport="longpoll"}'), 1, 'the delivery was timed');
  t.equal(sample(text, 'pollcast_publish_to_write_seconds_bucket{le="5",transport="longpoll"}'), 1, 'within the last bound');
  t.equal(sample(text, 'pollcast_publish_to_write_seconds_bucket{le="+Inf",transport="longpoll"}'), 1);
  t.equal(sample(text, 'pollcast_publish_to_write_seconds_count{transport="sse"}'), 0, 'every transport has its series');
  t.match(text, /^# TYPE pollcast_publish_to_write_seconds histogram$/m);
  t.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 0, "Node's default process metrics");
  t.notMatch(text, /^pollcast_storage_up/m, 'no storage metric for the in-memory hub');
  held.abort();
});

t.test('a missed answer is counted', async (t) => {
  const { origin } = await forkServer(t, ['--history', '1']);
  const first = await publish(origin, 'one');
  await publish(origin, 'two');
  await publish(origin, 'three');
  t.equal((await request(origin, `/messages?since=${first}`)).status, 200);
  t.equal(sample((await request(origin, '/metrics')).body, 'pollcast_missed_total{transport="messages"}'), 1);
});

t.test('/healthz and /readyz answer 200 while serving, and 503 while shutting down', async (t) => {
  const server = await forkServer(t, ['--shutdown-grace', '2000']);
  t.equal((await request(server.origin, '/healthz')).body, 'ok\n');
  t.equal((await request(server.origin, '/readyz')).status, 200);
  // A held poll keeps the server in its shutdown long enough to ask.
  const held = new AbortController();
  const keepAlive = request(server.origin, '/events', { signal: held.signal }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 200));
  server.child.send('shutdown');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const during = await request(server.origin, '/readyz').catch(() => undefined);
  if (during) t.equal(during.status, 503, 'not ready while shutting down');
  else t.pass('the port was already closed: not ready either');
  held.abort();
  await keepAlive;
});

t.test('--admin-token protects /stats and /metrics, not the health checks', async (t) => {
  const { origin } = await forkServer(t, ['--admin-token', 'ops']);
  for (const path of ['/stats', '/metrics']) {
    const refused = await request(origin, path);
    t.equal(refused.status, 401, path);
    t.equal(refused.headers['pollcast-error'], 'unauthorized');
    t.equal((await request(origin, path, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    t.equal((await request(origin, path, { headers: { authorization: 'Bearer ops' } })).status, 200);
  }
  t.equal((await request(origin, '/healthz')).status, 200);
  t.equal((await request(origin, '/readyz')).status, 200);
});

t.test('--admin-port moves /stats and /metrics off the public port', async (t) => {
  const adminPort = await freePort();
  const { origin } = await forkServer(t, ['--admin-port', String(adminPort)]);
  const admin = `http://127.0.0.1:${adminPort}`;
  t.equal((await request(origin, '/stats')).status, 404, 'not on the public port');
  t.equal((await request(origin, '/metrics')).status, 404);
  t.equal((await request(origin, '/healthz')).status, 200, 'health stays public for load balancers');
  t.equal((await request(admin, '/stats')).status, 200);
  t.match((await request(admin, '/metrics')).body, /pollcast_held/);
  t.equal((await request(admin, '/readyz')).status, 200);
  t.equal((await request(admin, '/')).status, 404, 'no page on the admin port');
  t.equal((await request(admin, '/subscribe')).status, 404, 'no API on the admin port');
});

t.test('with Redis: its state and command latency in /metrics, and /readyz 503 while it is down', async (t) => {
  const redis = await startRedis(t);
  const { origin } = await forkServer(t, ['--redis', redis.url]);
  await publish(origin, 'stored', 'r');
  let text = (await request(origin, '/metrics')).body;
  t.equal(sample(text, 'pollcast_storage_up{storage="redis"}'), 1);
  t.ok((sample(text, 'pollcast_redis_command_seconds_count{command="publish"}') ?? 0) >= 1, 'publishes timed');
  t.notMatch(text, /pollcast_budget_bytes\{budget="history"\}/, 'history lives in Redis, not against this process budget');
  t.equal((await request(origin, '/readyz')).status, 200);
  await redis.stop();
  let ready = await request(origin, '/readyz');
  for (let i = 0; i < 50 && ready.status === 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    ready = await request(origin, '/readyz');
  }
  t.equal(ready.status, 503, 'not ready without Redis');
  t.equal(ready.body, 'message storage is unavailable\n');
  text = (await request(origin, '/metrics')).body;
  t.equal(sample(text, 'pollcast_storage_up{storage="redis"}'), 0);
  t.equal((await request(origin, '/healthz')).status, 200, 'but alive');
});

t.test('a WebSocket handshake that ws refuses gives its place in the waiting room back', async (t) => {
  const { origin, port } = await forkServer(t, ['--max-waiting-per-client', '3']);
  for (let i = 0; i < 5; i++) {
    const status = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: bad\r\n\r\n',
        ),
      );
      let got = '';
      socket.on('data', (chunk: Buffer) => (got += String(chunk)));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(got.split('\r\n')[0]!));
    });
    t.equal(status, 'HTTP/1.1 400 Bad Request', `bad handshake ${i + 1}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(sample((await request(origin, '/metrics')).body, 'pollcast_held{transport="websocket"}'), 0, 'nothing held');
  const held = new AbortController();
  const parked = request(origin, '/subscribe', { signal: held.signal }).then(
    (answer) => answer.status,
    () => 'held',
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  held.abort();
  t.equal(await parked, 'held', 'the same client may still subscribe');
});

t.test('/readyz on the admin port says 503 starting while Redis is not connected yet', async (t) => {
  const [adminPort, deadRedis] = [await freePort(), await freePort()];
  const child = fork(
    CLI,
    ['--port', '0', '--admin-port', String(adminPort), '--redis', `redis://127.0.0.1:${deadRedis}`, '--log-level', 'silent'],
    { execArgv: [], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let answer = await request(`http://127.0.0.1:${adminPort}`, '/readyz').catch(() => undefined);
  // Until the admin port is up: a forked Node takes a second or more to start on a loaded machine (it gives up on Redis after 5 s).
  for (let i = 0; i < 200 && !answer && child.exitCode === null; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    answer = await request(`http://127.0.0.1:${adminPort}`, '/readyz').catch(() => undefined);
  }
  t.same([answer?.status, answer?.body], [503, 'starting\n']);
  t.equal((await request(`http://127.0.0.1:${adminPort}`, '/healthz')).status, 200, 'alive meanwhile');
  t.equal(await exited, 1, 'and it gives up when Redis never answers');
});
