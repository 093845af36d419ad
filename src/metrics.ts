/**
 * Prometheus metrics (`GET /metrics`, prom-client). Transports report what
 * only they see through the functions below (one call at each place);
 * what the hub, the waiting room and the budgets already count is read at
 * scrape time instead. Every metric lives in `registry`, not prom-client's
 * global one, so an application that embeds pollcast keeps its own apart.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Batch } from './protocol.js';
import { TallyHistogram } from './tally-histogram.js';

/** The transports that hold a client: long polls, event streams, WebSockets. */
export type Transport = 'longpoll' | 'sse' | 'websocket';
const TRANSPORTS: readonly Transport[] = ['longpoll', 'sse', 'websocket'];
/** The transports that can answer `missed`, interval polling included. */
export type Reader = Transport | 'messages';

/** Every pollcast metric, and Node's default process metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** Clients held now, by transport: plain counts, as a poll comes and goes on the hot path; read at scrape time. */
const heldNow: Record<Transport, number> = { longpoll: 0, sse: 0, websocket: 0 };
new Gauge({
  name: 'pollcast_held',
  help: 'Long polls, event streams and WebSockets held open, by transport',
  labelNames: ['transport'],
  registers: [registry],
  collect(this: Gauge): void {
    for (const transport of TRANSPORTS) this.set({ transport }, heldNow[transport]);
  },
});
const missedCounter = new Counter({
  name: 'pollcast_missed_total',
  help: 'Answers that reported missed messages, by transport',
  labelNames: ['transport'],
  registers: [registry],
});
const refusedCounter = new Counter({
  name: 'pollcast_refused_total',
  help: 'Requests and frames refused, by error code',
  labelNames: ['code'],
  registers: [registry],
});
const publishToWriteHistogram = new TallyHistogram({
  name: 'pollcast_publish_to_write_seconds',
  help: 'Delay from a publish to the write of that message to a subscriber waiting for it, by transport',
  label: 'transport',
  values: TRANSPORTS,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
});
registry.registerMetric(publishToWriteHistogram.asMetric());
const redisHistogram = new Histogram({
  name: 'pollcast_redis_command_seconds',
  help: 'Latency of Redis commands, by command',
  labelNames: ['command'],
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [registry],
});
const streamWritesCounter = new Counter({
  name: 'pollcast_stream_writes_total',
  help: 'Writes to event streams and WebSockets (each carries every event or frame ready for its connection), by transport',
  labelNames: ['transport'],
  registers: [registry],
});
const streamWrites = {
  sse: streamWritesCounter.labels({ transport: 'sse' }),
  websocket: streamWritesCounter.labels({ transport: 'websocket' }),
};

/** A client was taken (`+1`) or let go (`-1`) by a transport. */
export function held(transport: Transport, delta: 1 | -1): void {
  heldNow[transport] += delta;
}

/** One write of events or frames to a stream's connection. */
export function streamWrite(transport: 'sse' | 'websocket'): void {
  streamWrites[transport].inc();
}

/** An answer or frame told a client that messages were missed. */
export function missed(reader: Reader): void {
  missedCounter.inc({ transport: reader });
}

/** A request, upgrade or frame was refused with this stable error code. */
export function refused(code: string): void {
  refusedCounter.inc({ code });
}

/**
 * A batch was written to a subscriber that has waited since `waitingSince`
 * (ms since the epoch): the delay of each message published during the wait.
 * Messages older than the wait come from history, a catch-up, not a delivery
 * delay, and are left out.
 */
export function wrote(transport: Transport, batch: Batch, waitingSince: number): void {
  const now = Date.now();
  for (const message of batch.messages) {
    if (message.time >= waitingSince) publishToWriteHistogram.observe(transport, Math.max(0, now - message.time) / 1000);
  }
}

/** Times one Redis command; resolves or rejects as `pending` does. */
export async function redisCommand<T>(command: string, pending: Promise<T>): Promise<T> {
  const end = redisHistogram.startTimer({ command });
  try {
    return await pending;
  } finally {
    end();
  }
}

/** What a server reports at scrape time; see `createScrape`. */
export interface ScrapeSource {
  /** The hub's counters and storage state. */
  stats(): { waiting: number; channels: number; published: number; delivered: number; bytes: number; storage?: { up: boolean } };
  /** Each memory budget: bytes held against it now, and its limit. */
  budgets(): Iterable<readonly [name: string, used: number, limit: number]>;
}

/**
 * Adds the gauges read at scrape time from `source` and returns the function
 * that answers a scrape. One source per process: a second server in the same
 * process replaces the first's (they share the transport counters anyway).
 */
export function createScrape(source: ScrapeSource): () => Promise<string> {
  current = source;
  return () => registry.metrics();
}

let current: ScrapeSource | undefined;

function fromHub(key: 'waiting' | 'channels') {
  return function collect(this: Gauge): void {
    if (current) this.set(current.stats()[key]);
  };
}

/** The hub counts publishes and deliveries itself: its totals are copied into counters at each scrape. */
function totalFromHub(key: 'published' | 'delivered') {
  return function collect(this: Counter): void {
    if (!current) return;
    this.reset();
    this.inc(current.stats()[key]);
  };
}

new Counter({
  name: 'pollcast_published_total',
  help: 'Messages accepted since start',
  registers: [registry],
  collect: totalFromHub('published'),
});
new Counter({
  name: 'pollcast_delivered_total',
  help: 'Messages handed to subscribers since start (one per message per subscriber)',
  registers: [registry],
  collect: totalFromHub('delivered'),
});
new Gauge({
  name: 'pollcast_waiting',
  help: 'Subscribers waiting in the hub right now',
  registers: [registry],
  collect: fromHub('waiting'),
});
new Gauge({ name: 'pollcast_channels', help: 'Channels with history or subscribers', registers: [registry], collect: fromHub('channels') });
new Gauge({
  name: 'pollcast_budget_bytes',
  help: 'Bytes held against each memory budget',
  labelNames: ['budget'],
  registers: [registry],
  collect(this: Gauge): void {
    for (const [budget, used] of current?.budgets() ?? []) this.set({ budget }, used);
  },
});
new Gauge({
  name: 'pollcast_budget_limit_bytes',
  help: 'The limit of each memory budget',
  labelNames: ['budget'],
  registers: [registry],
  collect(this: Gauge): void {
    for (const [budget, , limit] of current?.budgets() ?? []) this.set({ budget }, limit);
  },
});
new Gauge({
  name: 'pollcast_storage_up',
  help: 'Whether the storage answers (1) or not (0); absent for the in-memory hub',
  labelNames: ['storage'],
  registers: [registry],
  collect(this: Gauge): void {
    const storage = current?.stats().storage;
    if (storage) this.set({ storage: 'redis' }, storage.up ? 1 : 0);
  },
});
