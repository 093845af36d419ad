// Streams before and after a change, alternating on one machine: server CPU (/proc) and stream writes (/metrics)
// per delivery when 200 event streams or WebSockets (loopback) get 600 messages published with 8 in flight.
// node scripts/stream-ab.mjs BEFORE_CHECKOUT AFTER_CHECKOUT (each built: dist/cli.js). Bounded: 60 s per case.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
const N = 200,
  M = 600,
  INFLIGHT = 8;
if (process.argv[2] === 'client') {
  const [kind, port] = [process.argv[3], Number(process.argv[4])];
  const net = await import('node:net');
  const { WebSocket } = await import('ws');
  let got = 0,
    opened = 0;
  for (let i = 0; i < N; i++) {
    if (kind === 'sse') {
      const s = net.connect(port, '127.0.0.1');
      let tail = '';
      s.setEncoding('latin1');
      s.on('data', (d) => {
        const t = tail + d;
        got += t.split('\ndata: m').length - 1;
        tail = t.slice(-8);
      });
      s.once('data', () => {
        if (++opened === N) process.send('open');
      });
      s.write('GET /events/ab HTTP/1.1\r\nHost: x\r\n\r\n');
    } else {
      const w = new WebSocket(`ws://127.0.0.1:${port}/ws/ab`);
      w.on('message', () => got++);
      w.on('open', () => {
        if (++opened === N) process.send('open');
      });
    }
  }
  setInterval(() => process.send({ got }), 50);
} else {
  const [BEFORE, AFTER] = [process.argv[2], process.argv[3]];
  if (!BEFORE || !AFTER) throw new Error('usage: node scripts/stream-ab.mjs BEFORE_CHECKOUT AFTER_CHECKOUT');
  const cpu = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: INFLIGHT });
  const req = (port, method, path, body) =>
    new Promise((res, rej) => {
      const r = http.request({ host: '127.0.0.1', port, method, path, agent }, (a) => {
        let b = '';
        a.on('data', (d) => (b += d));
        a.on('end', () => res(b));
      });
      r.on('error', rej);
      r.end(body);
    });
  async function one(variant, kind) {
    const srv = fork(
      `${variant}/dist/cli.js`,
      [
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--publish-rate',
        '0',
        '--max-waiting',
        '1000000',
        '--max-waiting-per-client',
        '1000000',
        '--log-level',
        'warn',
      ],
      { execArgv: [], stdio: 'ignore' },
    );
    const port = await new Promise((r) => srv.on('message', (m) => m.type === 'ready' && r(m.port)));
    const cl = fork(new URL(import.meta.url).pathname, ['client', kind, String(port)], { execArgv: [] });
    let got = 0;
    cl.on('message', (m) => {
      if (m.got !== undefined) got = m.got;
    });
    await new Promise((r) => cl.once('message', r));
    while (JSON.parse(await req(port, 'GET', '/stats')).waiting < N) await new Promise((r) => setTimeout(r, 50));
    const c0 = cpu(srv.pid);
    let next = 0;
    await Promise.all(
      Array.from({ length: INFLIGHT }, async () => {
        while (next < M) {
          const i = next++;
          await req(port, 'POST', '/publish/ab', `m${i} ${'x'.repeat(60)}`);
        }
      }),
    );
    const deadline = Date.now() + 60_000;
    while (got < N * M && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const c1 = cpu(srv.pid);
    const metrics = await req(port, 'GET', '/metrics');
    const writes = Number(
      (metrics.match(new RegExp(`pollcast_stream_writes_total\\{transport="${kind === 'sse' ? 'sse' : 'websocket'}"\\} (\\d+)`)) ??
        [])[1] ?? NaN,
    );
    cl.kill();
    srv.send('shutdown');
    await new Promise((r) => srv.once('exit', r));
    return {
      variant: variant === BEFORE ? 'before' : 'after',
      kind,
      complete: got / (N * M),
      usPerDelivery: +((c1 - c0) / (N * M)).toFixed(2),
      writesPerDelivery: +(writes / (N * M)).toFixed(3),
    };
  }
  for (let round = 0; round < 3; round++)
    for (const kind of ['sse', 'ws']) {
      const order = round % 2 ? [AFTER, BEFORE] : [BEFORE, AFTER];
      for (const v of order) console.log(JSON.stringify(await one(v, kind)));
    }
  process.exit(0);
}
