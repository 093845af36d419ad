import type { Hub, Subscription, Waiter } from '../hub.js';
import type { Batch } from '../protocol.js';

/** Where a channel loop reports: the stream or socket that carries several channels. */
export interface LoopSink {
  /** The loop's starting position is known (`loop.cursor`). Called once, before any batch. */
  started(loop: ChannelLoop): void;
  /** A batch of the loop's channel; return false to stop the loop (the connection is going). */
  batch(loop: ChannelLoop, batch: Batch): boolean;
  /** The channel cannot be followed (bad cursor, storage down, no room); the loop has stopped. */
  failed(loop: ChannelLoop, error: Error): void;
  /** The hub is closing; the loop has stopped. */
  released(loop: ChannelLoop): void;
}

/**
 * One channel followed on a connection that carries several: waits, hands
 * each batch to the sink, and waits again from the batch's cursor, the way a
 * single-channel stream does. Per channel, then, every message comes once
 * and in order, and `missed` before a gap; the channels of one connection
 * do not wait for each other.
 */
export class ChannelLoop implements Waiter {
  readonly channel: string;
  readonly #hub: Hub;
  readonly #sink: LoopSink;
  #subscription: Subscription | undefined;
  /** The position delivered so far: where to resume this channel. */
  #cursor: string | undefined;
  #started = false;
  #stopped = false;

  constructor(hub: Hub, channel: string, sink: LoopSink) {
    this.#hub = hub;
    this.channel = channel;
    this.#sink = sink;
  }

  /** The channel's position: undefined until the hub has resolved where the loop starts. */
  get cursor(): string | undefined {
    return this.#cursor;
  }

  /** Whether the starting position is known. */
  get isStarted(): boolean {
    return this.#started;
  }

  /** Starts waiting from `since`; throws what `hub.subscribe` throws (bad cursor, no room). */
  start(since: string | undefined): void {
    this.#subscription = this.#hub.subscribe(this.channel, since, this);
    if (this.#subscription.cursor !== undefined) this.started();
  }

  started(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#cursor = this.#subscription!.cursor;
    this.#sink.started(this);
  }

  deliver(batch: Batch): void {
    if (this.#stopped) return;
    this.started();
    this.#cursor = batch.cursor;
    if (!this.#sink.batch(this, batch)) return this.stop();
    try {
      this.#subscription = this.#hub.subscribe(this.channel, batch.cursor, this);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  release(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#sink.released(this);
  }

  fail(error: Error): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#sink.failed(this, error);
  }

  /** Stops following the channel; the sink hears nothing more. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#subscription?.cancel();
  }
}
