import type { ChannelSet } from '../../channel-set.js';
import { ChannelLoop } from '../channel-loop.js';
import type { LoopSink } from '../channel-loop.js';
import { HubFullError, InvalidCursorError, StorageUnavailableError } from '../../hub.js';
import type { Hub } from '../../hub.js';
import { CHANNEL_NAME } from '../../protocol.js';
import type { Batch } from '../../protocol.js';

/** A frame to the client, sent as JSON. */
export type ChannelFrame = Record<string, unknown>;

/** What a multi-channel WebSocket needs from its connection. */
export interface ChannelsHost {
  readonly hub: Hub;
  /** `maxChannelsPerConnection`. */
  readonly max: number;
  send(frame: ChannelFrame): void;
  /** Sends a frame with the others of this turn of the event loop, in one write, in order. */
  sendLater(frame: ChannelFrame): void;
  /** After a batch: true when the peer is too far behind and was cut. */
  overflowed(): boolean;
  /** Whether the connection's tokens let it read `channel`: one call per channel. */
  mayRead(channel: string): boolean;
  /** Lists the subscriber in `channel`'s presence; returns the function that takes it off. */
  here(channel: string): () => void;
  /** The hub is closing. */
  released(): void;
}

/** A client's `subscribe`/`unsubscribe` frame, once parsed. */
export interface ChannelRequest {
  readonly type: 'subscribe' | 'unsubscribe';
  readonly channel: string;
  readonly since?: string;
}

/** Reads a `subscribe`/`unsubscribe` frame's fields; undefined when they are not strings as they must be. */
export function parseChannelRequest(type: 'subscribe' | 'unsubscribe', value: Record<string, unknown>): ChannelRequest | undefined {
  const { channel, since } = value;
  if (typeof channel !== 'string') return undefined;
  if (since !== undefined && (type === 'unsubscribe' || typeof since !== 'string')) return undefined;
  return { type, channel, ...(since !== undefined && since !== '' && { since }) };
}

/**
 * The channels one WebSocket follows (`/ws?channels=a,b`), each by a
 * `ChannelLoop`, and the frames that add and drop them at any time. Every
 * frame about a channel names it: `subscribed` (with the starting cursor),
 * `message`, `missed`, `cursor`, `unsubscribed` (with the cursor to resume
 * from later), and `error` with a `channel` when that channel cannot be
 * followed — the others carry on. The subscriber is in the presence of
 * each channel while it follows it.
 */
export class SocketChannels implements LoopSink {
  readonly #host: ChannelsHost;
  readonly #loops = new Map<string, ChannelLoop>();
  /** Per channel followed, the function that takes the subscriber off its presence. */
  readonly #away = new Map<string, () => void>();

  constructor(host: ChannelsHost) {
    this.#host = host;
  }

  /** Follows the channels the upgrade named (already checked). */
  start(set: ChannelSet): void {
    for (const channel of set.channels) this.#follow(channel, set.since.get(channel));
  }

  /** A client frame: follow or drop a channel. */
  handle(request: ChannelRequest): void {
    const { channel } = request;
    if (!CHANNEL_NAME.test(channel)) return this.#error(channel, 'bad_channel', 'channel names are 1 to 64 of A-Z a-z 0-9 _ -');
    if (request.type === 'unsubscribe') {
      const loop = this.#loops.get(channel);
      if (!loop) return this.#error(channel, 'bad_request', 'not subscribed to this channel');
      this.#drop(channel);
      return this.#host.send({ type: 'unsubscribed', channel, cursor: loop.cursor ?? null });
    }
    if (this.#loops.has(channel)) return this.#error(channel, 'bad_request', 'already subscribed to this channel');
    if (this.#loops.size >= this.#host.max)
      return this.#error(channel, 'too_many_subscriptions', `at most ${this.#host.max} channels on one connection`);
    if (!this.#host.mayRead(channel)) return this.#error(channel, 'unauthorized', 'a valid bearer token is required');
    this.#follow(channel, request.since);
  }

  /** Stops every channel. */
  close(): void {
    for (const channel of [...this.#loops.keys()]) this.#drop(channel);
  }

  started(loop: ChannelLoop): void {
    this.#host.send({ type: 'subscribed', channel: loop.channel, cursor: loop.cursor });
  }

  batch(loop: ChannelLoop, batch: Batch): boolean {
    const channel = loop.channel;
    if (batch.missed) this.#host.sendLater({ type: 'missed', channel, cursor: batch.cursor });
    for (const { id, text, time, from } of batch.messages) this.#host.sendLater({ type: 'message', channel, id, text, time, from });
    if (batch.messages.length === 0 && !batch.missed) this.#host.sendLater({ type: 'cursor', channel, cursor: batch.cursor });
    return !this.#host.overflowed();
  }

  failed(loop: ChannelLoop, error: Error): void {
    this.#drop(loop.channel);
    const [code, reason] = loopError(error);
    this.#error(loop.channel, code, reason);
  }

  released(): void {
    this.#host.released();
  }

  #follow(channel: string, since: string | undefined): void {
    const loop = new ChannelLoop(this.#host.hub, channel, this);
    this.#loops.set(channel, loop);
    this.#away.set(channel, this.#host.here(channel));
    try {
      loop.start(since);
    } catch (error) {
      this.failed(loop, error as Error);
    }
  }

  /** Stops following `channel` and takes the subscriber off its presence. */
  #drop(channel: string): void {
    this.#loops.get(channel)?.stop();
    this.#loops.delete(channel);
    this.#away.get(channel)?.();
    this.#away.delete(channel);
  }

  #error(channel: string, code: string, reason: string): void {
    this.#host.send({ type: 'error', code, reason, channel });
  }
}

function loopError(error: Error): [string, string] {
  if (error instanceof InvalidCursorError) return ['bad_cursor', `bad cursor: ${error.message}`];
  if (error instanceof StorageUnavailableError) return ['storage_unavailable', 'message storage is unavailable; subscribe again shortly'];
  if (error instanceof HubFullError) return ['too_many_channels', 'too many channels are in use; subscribe again later'];
  return ['internal', 'internal server error'];
}
