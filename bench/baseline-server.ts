/**
 * The baseline: the classic long-polling demo pollcast grew from (shared/seeds/004), reduced to
 * its server. `/subscribe` parks the response; `/publish` reads the body and ends every parked
 * response with it. No ids, no history: whatever is published while a subscriber is between two
 * polls is lost to it — which is what the comparison shows.
 *
 * Bench additions only: `--port` (0 picks a free one), `/stats` with the number of parked polls,
 * a `Baseline-Order` header on publish answers (the order the server took them in), and the IPC of pollcast's CLI: `{type: 'ready', port}` once listening, `'shutdown'` to stop.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' } }, strict: true });

let subscribers = new Set<ServerResponse>();
let published = 0;

function onSubscribe(_req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Content-Type', 'text/plain;charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, must-revalidate');
  const parked = subscribers;
  parked.add(res);
  // The seed listens to req 'close'; since Node 16 that fires once the request is read, so the
  // response's 'close' (answered or connection gone) is what means "forget it" here.
  res.on('close', () => parked.delete(res));
}

function publish(message: string): void {
  const parked = subscribers;
  subscribers = new Set();
  for (const res of parked) res.end(message);
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/subscribe') {
    onSubscribe(req, res);
    return;
  }
  if (path === '/publish' && req.method === 'POST') {
    req.setEncoding('utf8');
    let message = '';
    req.on('data', (chunk: string) => {
      message += chunk;
    });
    req.on('end', () => {
      publish(message);
      // Bench addition: the order messages were published in, so the bench can tell reordering
      // by the server from publishes that overtook each other on the way.
      res.setHeader('Baseline-Order', String(++published));
      res.end('ok');
    });
    return;
  }
  if (path === '/stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ waiting: subscribers.size }));
    return;
  }
  res.statusCode = 404;
  res.end('not found');
});

function close(): void {
  for (const res of subscribers) res.end();
  subscribers = new Set();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(1), 5_000).unref();
}

process.on('message', (message) => {
  if (message === 'shutdown') close();
});
process.on('disconnect', close);
process.on('SIGINT', close);
process.on('SIGTERM', close);

server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  if (process.send) process.send({ type: 'ready', port });
  else process.stdout.write(`baseline listening on http://127.0.0.1:${port}/\n`);
});
