/**
 * What the bench's processes share: the targets' protocol adapters, the messages between the
 * orchestrator and its subscriber processes, the latency histogram, and /proc readers.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { SignJWT } from 'jose';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

// ---------------------------------------------------------------------------
// Targets and their protocols

export const TARGETS = [
  'pollcast',
  'pollcast-redis',
  'pollcast-redis-1',
  'baseline',
  'nchan',
  'nchan-multipart',
  'pollcast-sse',
  'pollcast-ws',
  'pollcast-poll',
  'pollcast-jwt',
] as const;
export type TargetName = (typeof TARGETS)[number];

export function isTarget(name: string): name is TargetName {
  return (TARGETS as readonly string[]).includes(name);
}

/** Where a subscriber stands: pollcast's cursor, nchan's Last-Modified/Etag pair, or nothing. */
export interface PollState {
  cursor: string;
  etag: string;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Parsed {
  /** Message texts in the order the server gave them. */
  texts: string[];
  /** The server said messages were lost (pollcast's `missed`). */
  missed: boolean;
  /** Not a message answer nor a "poll again" (204/304): counted as an error. */
  error: boolean;
  next: PollState;
}

/**
 * How a target's subscribers follow the channel: a long poll (one request per answer), an
 * interval poll (`/messages`, a request every `--poll-interval` ms that answers at once), or a
 * stream (server-sent events, WebSocket) that stays open.
 */
export type Transport = 'longpoll' | 'poll' | 'sse' | 'ws';

/** One target's subscribe and publish requests, and how its answers read. */
export interface Adapter {
  readonly name: TargetName;
  readonly transport: Transport;
  /** Headers every publish adds (a token). Default none. */
  publishHeaders?(): Record<string, string>;
  start(): PollState;
  subscribePath(channel: string, state: PollState): string;
  subscribeHeaders(state: PollState): Record<string, string>;
  parse(answer: Answer, state: PollState): Parsed;
  publishPath(channel: string): string;
  publishOk(status: number): boolean;
  /**
   * Where the server put the message in its channel's order, from the publish answer: pollcast's
   * id, nchan's message id, the baseline's order header. Messages published concurrently may be
   * stored in another order than their sequence numbers; "out of order" is judged against this.
   */
  orderKey(answer: Answer): number;
  /** Path of the counter of parked polls, and how to read it. */
  statsPath: string;
  waiting(body: string): number;
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

interface PollcastBatch {
  messages: { id: string; text: string; time: number }[];
  missed: boolean;
  cursor: string;
}

const pollcast: Adapter = {
  name: 'pollcast',
  transport: 'longpoll',
  start: () => ({ cursor: '0', etag: '' }),
  subscribePath: (channel, state) => `/subscribe/${channel}?since=${encodeURIComponent(state.cursor)}`,
  subscribeHeaders: () => ({ accept: 'application/json' }),
  parse(answer, state) {
    if (answer.status === 200) {
      const batch = JSON.parse(answer.body.toString('utf8')) as PollcastBatch;
      return {
        texts: batch.messages.map((m) => m.text),
        missed: batch.missed,
        error: false,
        next: { cursor: batch.cursor, etag: '' },
      };
    }
    const cursor = header(answer.headers, 'pollcast-cursor');
    return {
      texts: [],
      missed: false,
      error: answer.status !== 204,
      next: answer.status === 204 && cursor ? { cursor, etag: '' } : state,
    };
  },
  publishPath: (channel) => `/publish/${channel}`,
  publishOk: (status) => status === 200,
  orderKey: (answer) => Number(/-(\d+)\s*$/.exec(answer.body.toString('latin1'))?.[1] ?? NaN),
  statsPath: '/stats',
  waiting: (body) => (JSON.parse(body) as { waiting: number }).waiting,
};

const baseline: Adapter = {
  name: 'baseline',
  transport: 'longpoll',
  start: () => ({ cursor: '', etag: '' }),
  subscribePath: () => '/subscribe',
  subscribeHeaders: () => ({}),
  parse: (answer, state) => ({
    texts: answer.status === 200 ? [answer.body.toString('utf8')] : [],
    missed: false,
    error: answer.status !== 200,
    next: state,
  }),
  publishPath: () => '/publish',
  publishOk: (status) => status === 200,
  orderKey: (answer) => Number(header(answer.headers, 'baseline-order') ?? NaN),
  statsPath: '/stats',
  waiting: (body) => (JSON.parse(body) as { waiting: number }).waiting,
};

/** Splits a multipart/mixed body into the bodies of its parts (each part: headers, blank line, body). */
export function multipartBodies(body: Buffer, boundary: string): string[] {
  const text = body.toString('utf8');
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let at = text.indexOf(delimiter);
  // Bounded: every turn moves `at` forward past a delimiter or stops.
  while (at >= 0) {
    const afterDelimiter = at + delimiter.length;
    if (text.startsWith('--', afterDelimiter)) break; // the closing delimiter
    const next = text.indexOf(`\r\n${delimiter}`, afterDelimiter);
    if (next < 0) break;
    const part = text.slice(afterDelimiter + 2, next); // skip the CRLF after the delimiter
    const blank = part.indexOf('\r\n\r\n');
    parts.push(blank < 0 ? part : part.slice(blank + 4));
    at = next + 2;
  }
  return parts;
}

function nchan(multipart: boolean): Adapter {
  return {
    name: multipart ? 'nchan-multipart' : 'nchan',
    transport: 'longpoll',
    start: () => ({ cursor: '', etag: '' }),
    subscribePath: (channel) => `/${multipart ? 'subm' : 'sub'}/${channel}`,
    subscribeHeaders: (state): Record<string, string> =>
      state.cursor === '' ? {} : { 'if-modified-since': state.cursor, 'if-none-match': state.etag },
    parse(answer, state) {
      if (answer.status !== 200) {
        return { texts: [], missed: false, error: answer.status !== 304 && answer.status !== 408, next: state };
      }
      const next = {
        cursor: header(answer.headers, 'last-modified') ?? state.cursor,
        etag: header(answer.headers, 'etag') ?? state.etag,
      };
      const type = header(answer.headers, 'content-type') ?? '';
      const boundary = /^multipart\/mixed;\s*boundary="?([^";]+)"?/i.exec(type)?.[1];
      const texts = boundary ? multipartBodies(answer.body, boundary) : [answer.body.toString('utf8')];
      return { texts, missed: false, error: false, next };
    },
    publishPath: (channel) => `/pub/${channel}`,
    publishOk: (status) => status === 201 || status === 202,
    orderKey(answer) {
      // "last message id: 1795318946:3" (time:tag) of the message just stored
      const id = /last message id:\s*(\d+):(\d+)/.exec(answer.body.toString('latin1'));
      return id ? Number(id[1]) * 1e6 + Number(id[2]) : NaN;
    },
    statsPath: '/nchan_status',
    waiting: (body) => Number(/^subscribers:\s*(\d+)/m.exec(body)?.[1] ?? NaN),
  };
}

/** The same pollcast server followed over another of its transports; publishing is the same. */
const pollcastOver = (name: TargetName, transport: Transport): Adapter => ({ ...pollcast, name, transport });

/**
 * pollcast instances on one Redis (two, or one for `pollcast-redis-1`): the same protocol, but ids are stream ids
 * (`<ms>-<seq>`), ordered by time, then sequence.
 */
const pollcastRedis: Adapter = {
  ...pollcast,
  name: 'pollcast-redis',
  orderKey(answer) {
    const id = /(\d+)-(\d+)\s*$/.exec(answer.body.toString('latin1'));
    // Under 2^53 while fewer than 1000 entries share a millisecond.
    return id ? Number(id[1]) * 1000 + Number(id[2]) : NaN;
  },
};

/** The HS256 secret `pollcast-jwt` is started with. */
export const JWT_SECRET = 'bench-secret-of-at-least-32-characters!!';
/** With signed tokens only, the counters need an admin token: the probe presents this one. */
export const ADMIN_TOKEN = 'bench-admin-token';
/** One signed token for every subscriber and the publisher: after the first poll, each poll is a cache hit, as a re-poll is. */
const JWT = await new SignJWT({ name: 'bench', pollcast: { subscribe: ['*'], publish: ['*'] } })
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject('bench')
  .setExpirationTime('2h')
  .sign(new TextEncoder().encode(JWT_SECRET));

/** pollcast's long poll with signed tokens on: every request verified (from the cache once seen). */
const pollcastJwt: Adapter = {
  ...pollcast,
  name: 'pollcast-jwt',
  subscribeHeaders: () => ({ accept: 'application/json', authorization: `Bearer ${JWT}` }),
  publishHeaders: () => ({ authorization: `Bearer ${JWT}` }),
  statsPath: `${pollcast.statsPath}?access_token=${ADMIN_TOKEN}`,
};

export const ADAPTERS: Record<TargetName, Adapter> = {
  pollcast,
  'pollcast-redis': pollcastRedis,
  'pollcast-redis-1': { ...pollcastRedis, name: 'pollcast-redis-1' },
  baseline,
  nchan: nchan(false),
  'nchan-multipart': nchan(true),
  'pollcast-sse': pollcastOver('pollcast-sse', 'sse'),
  'pollcast-ws': pollcastOver('pollcast-ws', 'ws'),
  'pollcast-jwt': pollcastJwt,
  'pollcast-poll': {
    ...pollcastOver('pollcast-poll', 'poll'),
    subscribePath: (channel, state) => `/messages/${channel}?since=${encodeURIComponent(state.cursor)}`,
  },
};

// ---------------------------------------------------------------------------
// Messages: "SEQ SENT_MS PADDING", SENT_MS on the system-wide monotonic clock

/** Milliseconds on CLOCK_MONOTONIC, which every process on the machine shares. */
export function nowMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

export function messageText(seq: number, sentMs: number, size: number): string {
  const head = `${seq} ${sentMs.toFixed(3)} `;
  return head.length >= size ? head : head + 'x'.repeat(size - head.length);
}

/** [seq, sentMs], or undefined for a text the bench did not send. */
export function readMessage(text: string): [number, number] | undefined {
  const first = text.indexOf(' ');
  const second = text.indexOf(' ', first + 1);
  if (first <= 0 || second < 0) return undefined;
  const seq = Number(text.slice(0, first));
  const sent = Number(text.slice(first + 1, second));
  return Number.isSafeInteger(seq) && seq >= 0 && Number.isFinite(sent) ? [seq, sent] : undefined;
}

// ---------------------------------------------------------------------------
// Orchestrator <-> subscriber process

export interface StartJob {
  type: 'start';
  target: TargetName;
  port: number;
  channel: string;
  /** Index of the first subscriber of this process, and how many. */
  first: number;
  count: number;
  addresses: string[];
  /** Sequence numbers run from 0 to capacity - 1. */
  capacity: number;
  /** Absolute nowMs() after which everything stops, whatever happens. */
  deadlineMs: number;
  /** The bench's small HTTP/1.1 client, or Node's http.request with a keep-alive Agent. */
  client: ClientKind;
  /** For interval polling: ms from one answer to the next request. */
  pollIntervalMs: number;
}

export type ClientKind = 'raw' | 'node';

export type ToSubscribers =
  | StartJob
  | { type: 'mark' }
  | { type: 'status'; seq: number }
  /** `rank[seq]`: the message's place in the server's order (-1: unknown). */
  | { type: 'stop'; rank: number[] };

export interface Status {
  type: 'status';
  /** Distinct messages received, all subscribers together. */
  distinct: number;
  lastReceiveMs: number;
  /** Subscribers that hold message `seq`, and when the last of them got it. */
  seqCount: number;
  seqLastMs: number;
}

export interface SubscriberResult {
  type: 'result';
  /** Distinct messages per subscriber. */
  distinct: number[];
  deliveries: number;
  duplicates: number;
  outOfOrder: number;
  missedFlags: number;
  garbage: number;
  errors: number;
  responses: number;
  firstReceiveMs: number;
  lastReceiveMs: number;
  histogram: number[];
  /** Per sequence number: how many subscribers got it, and when the last did. */
  seqCount: number[];
  seqLastMs: number[];
  /** This process's CPU seconds (user + system) from 'mark' to its last delivery, and that window. */
  cpuSeconds: number;
  windowSeconds: number;
  /** Bytes its sockets read and wrote from 'mark' to 'stop' (TCP payload: HTTP heads, bodies, frames). */
  bytesRead: number;
  bytesWritten: number;
}

export type FromSubscribers = { type: 'started'; ready: number } | Status | SubscriberResult;

// ---------------------------------------------------------------------------
// Bytes on the wire

/** Sums what a process's sockets read and wrote, open and closed alike; every client and stream reports its sockets here. */
export class ByteMeter {
  readonly #open = new Set<Socket>();
  #closedRead = 0;
  #closedWritten = 0;

  /** Counts this socket from now on (a socket given twice counts once). */
  track(socket: Socket): void {
    if (this.#open.has(socket)) return;
    this.#open.add(socket);
    socket.once('close', () => {
      this.#open.delete(socket);
      this.#closedRead += socket.bytesRead;
      this.#closedWritten += socket.bytesWritten;
    });
  }

  /** Bytes read and written so far by every socket tracked. */
  totals(): { read: number; written: number } {
    let read = this.#closedRead;
    let written = this.#closedWritten;
    for (const socket of this.#open) {
      read += socket.bytesRead;
      written += socket.bytesWritten;
    }
    return { read, written };
  }
}

// ---------------------------------------------------------------------------
// Latency histogram: log-linear buckets in microseconds, 32 per power of two (~3 %)

const SUB = 32;
const SUB_BITS = 5;
export const BUCKETS = 2 * SUB + 27 * SUB;

export function bucketOf(ms: number): number {
  const us = Math.min(2 ** 31 - 1, Math.max(0, Math.round(ms * 1000)));
  if (us < 2 * SUB) return us;
  const e = 31 - Math.clz32(us) - SUB_BITS; // us >>> e is in [SUB, 2*SUB)
  return 2 * SUB + (e - 1) * SUB + ((us >>> e) - SUB);
}

/** The middle of a bucket, in ms. */
export function bucketMs(index: number): number {
  if (index < 2 * SUB) return index / 1000;
  const e = Math.floor((index - 2 * SUB) / SUB) + 1;
  const mantissa = ((index - 2 * SUB) % SUB) + SUB;
  return ((mantissa + 0.5) * 2 ** e) / 1000;
}

export function percentile(histogram: ArrayLike<number>, p: number): number {
  let total = 0;
  for (let i = 0; i < histogram.length; i++) total += histogram[i] ?? 0;
  if (total === 0) return NaN;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i] ?? 0;
    if (seen >= rank) return bucketMs(i);
  }
  return NaN;
}

// ---------------------------------------------------------------------------
// /proc

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' '); // [0] is field 3 (state)
}

/** User + system CPU seconds of a process (all its threads). */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function statusKb(pid: number, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

export const rssBytes = (pid: number): number => statusKb(pid, 'VmRSS');
export const peakRssBytes = (pid: number): number => statusKb(pid, 'VmHWM');

/** Direct children of a process. */
export function childPids(parent: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[1]) === parent) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
