/**
 * The bench's publishing: one publisher with keep-alive connections of its own, recording when
 * each message went and the server's order of each; flat out or paced.
 */
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeClient, RawClient } from './http1.js';
import type { Client } from './http1.js';
import type { Server } from './targets.js';
import { ADAPTERS, messageText, nowMs } from './wire.js';
import type { ClientKind } from './wire.js';

/** How to publish: the HTTP client, the message size in bytes, the channel. */
export interface PublishSettings {
  client: ClientKind;
  size: number;
  channel: string;
}

/** Publishes over up to `inflight` keep-alive connections of its own, one request each at a time. */
export class Publisher {
  readonly sentMs: Float64Array;
  /** The server's order key of each message (NaN: unknown). */
  readonly orderKey: Float64Array;
  published = 0;
  errors = 0;
  private readonly server: Server;
  private readonly idle: Client[] = [];
  private readonly all: Client[] = [];
  private readonly agent = new Agent({ keepAlive: true });
  private readonly settings: PublishSettings;

  constructor(server: Server, capacity: number, settings: PublishSettings) {
    this.server = server;
    this.settings = settings;
    this.sentMs = new Float64Array(capacity);
    this.orderKey = new Float64Array(capacity).fill(NaN);
  }

  /** rank[seq]: place of each message in the server's order; -1 where unknown. */
  ranks(): number[] {
    const known: number[] = [];
    for (let seq = 0; seq < this.orderKey.length; seq++) if (Number.isFinite(this.orderKey[seq])) known.push(seq);
    known.sort((a, b) => this.orderKey[a]! - this.orderKey[b]!);
    const rank = new Array<number>(this.orderKey.length).fill(-1);
    known.forEach((seq, i) => (rank[seq] = i));
    return rank;
  }

  async publish(seq: number): Promise<boolean> {
    const adapter = ADAPTERS[this.server.target];
    let client = this.idle.pop();
    if (!client) {
      client = this.settings.client === 'node' ? new NodeClient(this.agent, this.server.port) : new RawClient(this.server.port);
      this.all.push(client);
    }
    const sent = nowMs();
    this.sentMs[seq] = sent;
    const body = messageText(seq, sent, this.settings.size);
    let ok = false;
    try {
      const answer = await withTimeout(
        client.send(
          'POST',
          adapter.publishPath(this.settings.channel),
          { 'Content-Type': 'text/plain; charset=utf-8', ...adapter.publishHeaders?.() },
          body,
        ),
        30_000,
      );
      ok = adapter.publishOk(answer.status);
      if (ok) this.orderKey[seq] = adapter.orderKey(answer);
    } catch {
      client.destroy(); // a new connection next time
    }
    if (ok) this.published++;
    else this.errors++;
    this.idle.push(client);
    return ok;
  }

  close(): void {
    for (const client of this.all) client.destroy();
    this.agent.destroy();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** As fast as possible with `inflight` publishes in flight; returns when all are answered. */
export async function publishFlat(publisher: Publisher, messages: number, inflight: number, until: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    // Bounded: `messages` in all, and by time.
    while (next < messages && nowMs() < until) await publisher.publish(next++);
  };
  await Promise.all(Array.from({ length: inflight }, lane));
}

/** `rate` per second, on schedule whatever the answers do; returns when all are answered. */
export async function publishPaced(publisher: Publisher, messages: number, rate: number, until: number): Promise<void> {
  const start = nowMs();
  const pending: Promise<boolean>[] = [];
  for (let seq = 0; seq < messages && nowMs() < until; seq++) {
    const due = start + (seq * 1000) / rate;
    const wait = due - nowMs();
    if (wait > 1) await sleep(wait);
    pending.push(publisher.publish(seq));
  }
  await Promise.all(pending);
}
