import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import t from 'tap';
import { CLI } from './fixtures/server.js';
import { poll, publish, request, waitForWaiting } from './fixtures/http.js';
import { seededRandom } from '../bench/random.js';
import { sleep } from './fixtures/wait.js';

/**
 * Hostile input over raw sockets: a few hundred malformed, truncated,
 * oversized, pipelined and abandoned requests, generated from a seed (printed;
 * `POLLCAST_SEED=N` replays a run), sent with bounded concurrency. The server
 * must answer every one of them with well-formed HTTP or a closed socket, log
 * nothing, keep no poll parked, and still work afterwards.
 */

const CASES = 600;
const CONCURRENCY = 16;
/** No connection may last longer than this: whatever is still open is cut. */
const CONNECTION_MS = 2_000;
const MAX_BODY = 8_192;
const POLL_TIMEOUT_MS = 1_000;

// ---------------------------------------------------------------------------
// The server, forked with its stderr captured (forkServer lets it through).

interface Captured {
  readonly child: ChildProcess;
  readonly origin: string;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

async function forkCapturing(t: Teardown, args: string[]): Promise<Captured> {
  // Its log lines (JSON on stdout) at level error and above count as output too: an unexpected error is one.
  const child = fork(CLI, ['--port', '0', '--host', '127.0.0.1', '--log-level', 'error', ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    execArgv: [],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null && child.connected) child.send('shutdown');
    await Promise.race([exited, sleep(5_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (message: { type?: string; port?: number }) => {
      if (message.type === 'ready' && typeof message.port === 'number') resolve(message.port);
    });
    child.once('exit', (code) => reject(new Error(`pollcast exited with ${code} before it was ready: ${stderr}`)));
  });
  return { child, origin: `http://127.0.0.1:${port}`, stderr: () => stderr };
}

// ---------------------------------------------------------------------------
// Cases: what to write, and how the client leaves.

/** Bytes to write, or a pause in milliseconds. */
type Step = Buffer | number;

interface Case {
  readonly kind: string;
  readonly steps: Step[];
  /**
   * After the last step: `end` half-closes (the server may still answer),
   * `destroy` hangs up at once, `hold` waits for the server to close (or the
   * connection timeout).
   */
  readonly finish: 'end' | 'destroy' | 'hold';
}

const raw = (text: string): Buffer => Buffer.from(text, 'latin1');

class Gen {
  readonly #rand: () => number;
  constructor(rand: () => number) {
    this.#rand = rand;
  }
  chance(p: number): boolean {
    return this.#rand() < p;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#rand() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#rand() * items.length)]!;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.#rand() * 256);
    return out;
  }
  /** Printable ASCII, the kind of junk a confused client sends. */
  text(n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) out += String.fromCharCode(0x20 + Math.floor(this.#rand() * 95));
    return out;
  }
}

const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'PURGE', 'SEARCH', 'MKCOL', 'LINK'];
const BAD_METHODS = ['FOO', 'get', 'G\x00T', 'GET\t', 'ÄÖÜ', '', '-', 'G ET', 'A'.repeat(300), 'POST\x7f'];
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/1.2',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/1.1x',
  'http/1.1',
  'HTTP/11',
  'HTTP/',
  'HTTP/1.1 extra',
];
const CHANNELS = ['fz', 'fz-2', 'room_1', 'default'];
const PERCENT = ['%', '%g0', '%zz', '%e2%82', '%ff%fe', '%00', '%2e%2e%2f', '%C0%AF', '%%', '%2', '%u0041', '%25', '%0d%0aX-Injected:%201'];

function path(g: Gen): string {
  const channel = g.pick(CHANNELS);
  switch (g.int(0, 13)) {
    case 0:
      return `/publish/${channel}`;
    case 1:
      return `/subscribe/${channel}?since=0`;
    case 2:
      return `/subscribe/${channel}?since=${g.pick(['', '-', 'abc', 'zz-1', '0-0', 'x'.repeat(2000), '999999999999999999-1', '%ff', '0&since=1', g.text(20)])}`;
    case 3:
      return '/stats';
    case 4:
      return g.pick(['/', '/index.html', '/favicon.svg', '/style.css', '/js/protocol.js', '/nope', '//', '/..', '/./stats']);
    case 5:
      return `/${g.pick(['publish', 'subscribe', 'stats'])}/${Array.from({ length: g.int(1, 4) }, () => g.pick(PERCENT)).join('')}`;
    case 6:
      return `/${g.pick(['publish', 'subscribe'])}/${g.text(g.int(1, 80)).replace(/[ ?#]/g, '_')}`;
    case 7:
      return `/subscribe?${g.pick(PERCENT)}=${g.pick(PERCENT)}&since=${g.pick(PERCENT)}`;
    case 8:
      return g.pick([
        '*',
        'http://x/stats',
        'http://[::1',
        'http://x:99999/publish',
        'https://x/subscribe?since=0',
        'file:///etc/passwd',
        'x',
        '?',
        '#frag',
      ]);
    case 9:
      return `/${'a/'.repeat(g.int(100, 4000))}`;
    case 10:
      return `/stats?${'q=1&'.repeat(g.int(10, 3000))}`;
    case 11:
      return `/${g
        .bytes(g.int(1, 40))
        .toString('latin1')
        .replace(/[\r\n ]/g, '')}`;
    case 12:
      return `/subscribe/${'x'.repeat(g.int(60, 70))}`;
    default:
      return `/publish?${g.text(30).replace(/[ #]/g, '')}`;
  }
}

function method(g: Gen): string {
  return g.chance(0.85) ? g.pick(METHODS) : g.pick(BAD_METHODS);
}

/** A well-formed request, to mix with the bad ones. */
function validRequest(g: Gen): string {
  const channel = g.pick(CHANNELS);
  switch (g.int(0, 5)) {
    case 0: {
      const body = `fuzz ${g.text(g.int(1, 40))}`;
      return `POST /publish/${channel} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    }
    case 1:
      return `GET /subscribe/${channel}?since=0 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n`;
    case 2:
      return 'GET /stats HTTP/1.1\r\nHost: x\r\n\r\n';
    case 3:
      return 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n';
    case 4:
      return `DELETE /publish/${channel} HTTP/1.1\r\nHost: x\r\n\r\n`;
    default:
      return `GET /subscribe/${channel} HTTP/1.1\r\nHost: x\r\n\r\n`; // parks until the poll timeout
  }
}

function post(headers: string, body = ''): string {
  return `POST /publish/fz HTTP/1.1\r\nHost: x\r\n${headers}\r\n${body}`;
}

/** Each maker builds one kind of hostile request. */
const MAKERS: Record<string, (g: Gen) => Omit<Case, 'kind'>> = {
  'random request line': (g) => {
    const m = method(g);
    const headers = g.chance(0.7) ? 'Host: x\r\n' : '';
    const body = m === 'POST' && g.chance(0.5) ? `Content-Length: 5\r\n\r\nhello` : '\r\n';
    return { steps: [raw(`${m} ${path(g)} ${g.pick(VERSIONS)}\r\n${headers}${body}`)], finish: g.pick(['end', 'hold']) };
  },
  'random bytes': (g) => ({ steps: [g.bytes(g.int(1, 4096))], finish: g.pick(['end', 'hold', 'destroy']) }),
  'request line of random bytes': (g) => ({
    steps: [Buffer.concat([raw(`${method(g)} /`), g.bytes(g.int(1, 200)), raw(' HTTP/1.1\r\nHost: x\r\n\r\n')])],
    finish: 'end',
  }),
  'many headers': (g) => {
    const n = g.int(50, 3000);
    const lines = Array.from({ length: n }, (_, i) => `X-Fuzz-${i}: ${g.text(g.int(0, 20))}\r\n`).join('');
    return { steps: [raw(`GET /stats HTTP/1.1\r\nHost: x\r\n${lines}\r\n`)], finish: 'end' };
  },
  'long header': (g) => ({
    steps: [raw(`GET /subscribe/fz?since=0 HTTP/1.1\r\nHost: x\r\nX-Long: ${'v'.repeat(g.int(1_000, 80_000))}\r\n\r\n`)],
    finish: 'end',
  }),
  'long request target': (g) => ({ steps: [raw(`GET /${'p'.repeat(g.int(8_000, 100_000))} HTTP/1.1\r\nHost: x\r\n\r\n`)], finish: 'end' }),
  'malformed header lines': (g) => {
    const bad = g.pick([
      'NoColon\r\n',
      ' folded: value\r\n',
      'X-A: a\r\n continued\r\n',
      'Bad Name: x\r\n',
      'X-Nul: a\x00b\r\n',
      'X-Ctl: \x01\x02\r\n',
      ': empty-name\r\n',
      'X-Bare-LF: x\n',
      'X-Bare-CR: x\rY: z\r\n',
      'Ünïcode: x\r\n',
      'X-Space : x\r\n',
      'Host: x\r\nHost: y\r\n',
      'Content-Type: text/plain; charset=latin1\r\n',
      'Idempotency-Key: \x7f\r\n',
      'Accept: application/json;q=foo\r\n',
      'Transfer-Encoding: chunked\r\n',
    ]);
    return { steps: [raw(`POST /publish/fz HTTP/1.1\r\nHost: x\r\n${bad}Content-Length: 2\r\n\r\nhi`)], finish: g.pick(['end', 'hold']) };
  },
  'no Host header': (g) => ({ steps: [raw(`GET ${g.pick(['/stats', '/subscribe?since=0', '/'])} HTTP/1.1\r\n\r\n`)], finish: 'end' }),
  'oversized declared body': (g) => {
    const length = g.pick([MAX_BODY + 1, 1_000_000, 2 ** 40, 9_007_199_254_740_993]);
    const sent = g.chance(0.5) ? g.bytes(g.int(0, 64_000)) : Buffer.alloc(0);
    return { steps: [raw(post(`Content-Length: ${length}\r\n`)), sent], finish: g.pick(['end', 'destroy', 'hold']) };
  },
  'oversized chunked body': (g) => {
    const chunk = 'y'.repeat(g.int(1_000, 4_000));
    const chunks = Array.from({ length: g.int(3, 12) }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    return {
      steps: [raw(post('Transfer-Encoding: chunked\r\n') + chunks + (g.chance(0.5) ? '0\r\n\r\n' : ''))],
      finish: g.pick(['end', 'hold']),
    };
  },
  'truncated body': (g) => {
    const length = g.int(10, MAX_BODY);
    const part = g.text(g.int(0, length - 1));
    return { steps: [raw(post(`Content-Length: ${length}\r\n`, part))], finish: g.pick(['end', 'destroy', 'hold']) };
  },
  'aborted body': (g) => {
    const length = g.int(100, MAX_BODY);
    return {
      steps: [raw(post(`Content-Length: ${length}\r\n`, g.text(g.int(1, 50)))), g.int(0, 200), raw(g.text(g.int(1, 50)))],
      finish: 'destroy',
    };
  },
  'wrong Content-Length': (g) => {
    const body = `message ${g.text(g.int(5, 40))}`;
    const value = g.pick([
      String(body.length - g.int(1, 4)),
      String(body.length + g.int(1, 100)),
      '-1',
      '-0',
      'abc',
      '1e3',
      '0x10',
      ' 12 ',
      '+5',
      '5, 5',
      `${body.length}, ${body.length}`,
      '',
      '99999999999999999999999',
      '١٢',
      `${body.length}\x00`,
      '0',
    ]);
    const twice = g.chance(0.3) ? `Content-Length: ${g.pick([value, String(body.length), '7'])}\r\n` : '';
    return { steps: [raw(post(`Content-Length: ${value}\r\n${twice}`, body))], finish: g.pick(['end', 'hold']) };
  },
  'Content-Length with Transfer-Encoding': (g) => {
    const te = g.pick([
      'chunked',
      'Chunked',
      'chunked, identity',
      'identity',
      'gzip, chunked',
      'chunked, gzip',
      'xchunked',
      'chunked\x00',
      ' chunked',
      'chunked\r\nTransfer-Encoding: chunked',
    ]);
    const cl = g.chance(0.7) ? `Content-Length: ${g.pick(['5', '0', '100', '-1'])}\r\n` : '';
    const order = g.chance(0.5) ? `${cl}Transfer-Encoding: ${te}\r\n` : `Transfer-Encoding: ${te}\r\n${cl}`;
    return { steps: [raw(post(order, '5\r\nhello\r\n0\r\n\r\n'))], finish: g.pick(['end', 'hold']) };
  },
  'bad chunked encoding': (g) => {
    const body = g.pick([
      'zz\r\nhello\r\n0\r\n\r\n',
      '5\r\nhelloXX0\r\n\r\n',
      '5\nhello\n0\n\n',
      'ffffffffffffffffffff\r\nx',
      '-5\r\nhello\r\n0\r\n\r\n',
      '5;ext=\x00\r\nhello\r\n0\r\n\r\n',
      '5 \r\nhello\r\n0\r\n\r\n',
      '3\r\nhello\r\n0\r\n\r\n',
      '5\r\nhel',
      '0\r\nBad Trailer\r\n\r\n',
      '0\r\nX-T: \x01\r\n\r\n',
      '5\r\nhello\r\n',
      '\r\n\r\n',
      `${'0'.repeat(500)}5\r\nhello\r\n0\r\n\r\n`,
      '5;' + 'e'.repeat(20_000) + '\r\nhello\r\n0\r\n\r\n',
    ]);
    return { steps: [raw(post('Transfer-Encoding: chunked\r\n', body))], finish: g.pick(['end', 'hold', 'destroy']) };
  },
  'garbage after the headers': (g) => ({
    steps: [raw(validRequest(g)), g.chance(0.5) ? g.bytes(g.int(1, 500)) : raw(g.text(g.int(1, 500)))],
    finish: g.pick(['end', 'hold']),
  }),
  'other protocols': (g) => ({
    steps: [
      raw(
        g.pick([
          'GET /\r\n',
          'GET /stats\r\n\r\n',
          'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
          'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00',
          '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
          'SSH-2.0-OpenSSH_9.6\r\n',
          '\r\n\r\n\r\n\r\n',
          '\n',
          'GET / HTTP/1.1\n\n',
          'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET /subscribe HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
          'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
          'POST /publish HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n',
          'POST /publish HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nhi',
          'GET /stats HTTP/1.0\r\n\r\n',
          'GET /stats HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
        ]),
      ),
    ],
    finish: g.pick(['end', 'hold']),
  }),
  'pipelined burst': (g) => {
    const requests = Array.from({ length: g.int(2, 20) }, () => validRequest(g));
    const tail = g.chance(0.3) ? [g.chance(0.5) ? g.bytes(g.int(1, 100)) : raw(`${method(g)} ${path(g)} HTTP/1.1\r\n\r\n`)] : [];
    return { steps: [raw(requests.join('')), ...tail], finish: g.pick(['end', 'hold']) };
  },
  'parked poll abandoned': (g) => ({
    steps: [
      raw(
        `GET /subscribe/${g.pick(['fz-park', 'fz'])}${g.chance(0.5) ? '' : '?since=' + g.pick(['x-1', '0'])} HTTP/1.1\r\nHost: x\r\n${g.chance(0.5) ? 'Accept: application/json\r\n' : ''}\r\n`,
      ),
      g.int(0, 400),
    ],
    finish: g.pick(['destroy', 'destroy', 'end']),
  }),
  'slow drip': (g) => {
    const whole = raw(g.chance(0.6) ? validRequest(g) : `${method(g)} ${path(g)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const steps: Step[] = [];
    for (let at = 0; at < whole.length && steps.length < 60; ) {
      const size = g.int(1, 12);
      steps.push(whole.subarray(at, at + size), g.int(0, 8));
      at += size;
    }
    return { steps, finish: g.pick(['end', 'destroy', 'hold']) };
  },
};

const KINDS = Object.keys(MAKERS);

function makeCase(g: Gen): Case {
  const kind = g.pick(KINDS);
  const made = MAKERS[kind]!(g);
  if (!g.chance(0.15)) return { kind, ...made };
  // Hang up at a random byte of what would have been sent.
  const whole = Buffer.concat(made.steps.filter((s): s is Buffer => typeof s !== 'number'));
  return { kind: `${kind}, cut`, steps: [whole.subarray(0, g.int(0, whole.length)), g.int(0, 50)], finish: 'destroy' };
}

// ---------------------------------------------------------------------------
// Running a case, and reading what came back.

interface Outcome {
  readonly case: Case;
  readonly reply: Buffer;
  /** The connection ended in a way that may cut a response short: we hung up, timed out, or it was reset. */
  readonly cut: boolean;
}

function run(port: number, c: Case): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let cut = false;
    let closed = false;
    const timer = setTimeout(() => {
      cut = true;
      socket.destroy();
    }, CONNECTION_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => (cut = true));
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ case: c, reply: Buffer.concat(chunks), cut });
    });
    socket.once('connect', async () => {
      for (const step of c.steps) {
        if (closed) return;
        if (typeof step === 'number') await sleep(step);
        else if (step.length) socket.write(step);
      }
      if (closed) return;
      if (c.finish === 'end') socket.end();
      if (c.finish === 'destroy') {
        cut = true;
        socket.destroy();
      }
    });
  });
}

const STATUS_LINE = /^HTTP\/1\.1 ([1-5]\d\d) [^\r\n]*$/;
const HEADER_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[^\r\n]*$/;

interface Parsed {
  readonly statuses: number[];
  /** What is wrong with the bytes, if anything. */
  readonly problem?: string;
  /** The last response stopped before its end. */
  readonly truncated: boolean;
}

/**
 * Reads a reply as a sequence of HTTP/1.1 responses: each starts with a
 * status line, has well-formed header lines, and a body as long as it says.
 */
function parseReplies(reply: Buffer, head: boolean): Parsed {
  const statuses: number[] = [];
  let rest = reply.toString('latin1');
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) {
      const line = rest.split('\r\n')[0]!;
      if ('HTTP/1.1 '.startsWith(line) || /^HTTP\/1\.1 \d/.test(line)) return { statuses, truncated: true };
      return { statuses, truncated: false, problem: `not a status line: ${JSON.stringify(rest.slice(0, 80))}` };
    }
    const [statusLine, ...headerLines] = rest.slice(0, end).split('\r\n');
    const status = STATUS_LINE.exec(statusLine!);
    if (!status) return { statuses, truncated: false, problem: `not a status line: ${JSON.stringify(statusLine!.slice(0, 80))}` };
    const bad = headerLines.find((line) => !HEADER_LINE.test(line));
    if (bad !== undefined) return { statuses, truncated: false, problem: `bad header line: ${JSON.stringify(bad.slice(0, 80))}` };
    const code = Number(status[1]);
    statuses.push(code);
    const headers = new Map(
      headerLines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
      }),
    );
    rest = rest.slice(end + 4);
    const length = headers.get('content-length');
    const chunked = /chunked/i.test(headers.get('transfer-encoding') ?? '');
    if (code < 200 || code === 204 || code === 304) continue;
    if (chunked) {
      // Only Node's own bodiless answers (417, 400 without Host) are chunked here: read to the last chunk.
      const last = rest.indexOf('0\r\n\r\n');
      if (last === -1) return { statuses, truncated: true };
      rest = rest.slice(last + 5);
    } else if (length !== undefined) {
      if (!/^\d+$/.test(length)) return { statuses, truncated: false, problem: `bad content-length ${length}` };
      // The answer to a HEAD carries the length of the body it does not send.
      if (head && (rest.length === 0 || rest.startsWith('HTTP/1.1 '))) continue;
      if (rest.length < Number(length)) return { statuses, truncated: true };
      rest = rest.slice(Number(length));
    } else {
      rest = ''; // delimited by the close
    }
  }
  return { statuses, truncated: false };
}

async function runAll(port: number, cases: Case[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++]!;
      outcomes.push(await run(port, c));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return outcomes;
}

t.test('hostile input leaves the server answering, well-formed, with nothing parked or logged', async (t) => {
  const seed = Number(process.env.POLLCAST_SEED ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (replay with POLLCAST_SEED=${seed})`);
  // Every connection comes from 127.0.0.1: lift the per-client limits as forkServer does.
  const limits = ['--publish-rate', '0', '--max-waiting-per-client', '1000000'];
  const server = await forkCapturing(t, [...limits, '--poll-timeout', String(POLL_TIMEOUT_MS), '--max-body', String(MAX_BODY)]);
  const port = Number(new URL(server.origin).port);
  const g = new Gen(seededRandom(seed));
  const cases = Array.from({ length: CASES }, () => makeCase(g));

  const started = Date.now();
  const outcomes = await runAll(port, cases);
  t.comment(`${outcomes.length} connections in ${Date.now() - started} ms`);

  t.equal(server.child.exitCode, null, 'the process is still running');
  t.equal(server.child.signalCode, null, 'and was not killed');

  const counts = new Map<number, number>();
  const problems: string[] = [];
  let answered = 0;
  for (const outcome of outcomes) {
    const { kind, steps } = outcome.case;
    const bytes = Buffer.concat(steps.filter((s): s is Buffer => typeof s !== 'number')).toString('latin1');
    // A HEAD anywhere in what was sent (pipelined ones follow a body directly):
    // an answer may then carry a length but no body.
    const parsed = parseReplies(outcome.reply, bytes.includes('HEAD '));
    const sent = JSON.stringify(bytes.slice(0, 160));
    if (parsed.statuses.length) answered++;
    for (const status of parsed.statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
    if (parsed.problem) problems.push(`${kind}: ${parsed.problem} (sent ${sent})`);
    else if (parsed.truncated && !outcome.cut)
      problems.push(
        `${kind}: a response was cut short by the server: ${JSON.stringify(outcome.reply.toString('latin1').slice(0, 160))} (sent ${sent})`,
      );
  }
  t.comment(
    `statuses: ${[...counts]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ')}`,
  );
  t.same(problems, [], 'every reply is a sequence of well-formed HTTP/1.1 responses');
  t.ok(answered > CASES / 2, `most connections got an answer (${answered} of ${CASES})`);
  t.notOk(counts.has(500), 'no request caused an internal error');
  t.ok(counts.has(400) && counts.has(200), 'both good and bad requests were among them');

  await waitForWaiting(server.origin, 0, 10_000);
  t.pass('no poll is left parked');

  const parked = poll(server.origin, undefined, 'after-fuzz');
  await waitForWaiting(server.origin, 1);
  const id = await publish(server.origin, 'still here', 'after-fuzz');
  const answer = await parked;
  t.equal(answer.status, 200, 'a subscribe still gets its message');
  t.match(JSON.parse(answer.body), { messages: [{ id, text: 'still here' }], missed: false, cursor: id });
  t.equal((await request(server.origin, '/stats')).status, 200);

  t.equal(server.child.exitCode, null, 'the process is still running');
  t.notMatch(server.stderr(), /error|uncaught|warning|exception/i, 'the server logged nothing alarming');
  t.equal(server.stderr(), '', 'the server logged nothing at all');
});
