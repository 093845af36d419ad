import type { Batch, Message } from './protocol.js';

/**
 * Someone waiting for messages: a long poll, later a stream. The hub calls
 * exactly one of the two methods, exactly once, and never from inside
 * `subscribe()` itself.
 */
export interface Waiter {
  /** Messages after the waiter's cursor exist (or some were missed). */
  deliver(batch: Batch): void;
  /** The hub is closing; the wait ends with nothing. */
  release(): void;
}

/** What `subscribe()` hands back: where the wait starts, and how to leave. */
export interface Subscription {
  /** The resolved cursor the wait started from; resuming from it loses nothing. */
  readonly cursor: string;
  /** Stops the wait; the waiter is not called after this. Idempotent. */
  cancel(): void;
}

/** Counters for `/stats`. */
export interface HubStats {
  /** Waiters held right now. */
  readonly waiting: number;
  /** Channels with history or waiters. */
  readonly channels: number;
  /** Messages accepted since start. */
  readonly published: number;
  /** Messages handed to waiters since start (one per message per waiter). */
  readonly delivered: number;
  /** UTF-8 bytes of message text kept in history. */
  readonly bytes: number;
}

/**
 * The broker: channels, history and waiters, and nothing of HTTP. The
 * in-memory hub is the default; a Redis-backed one can stand in its place.
 */
export interface Hub {
  /**
   * Stores `text` on `channel` and wakes its waiters; resolves with the
   * stored message. With a `key`, a publish that repeats a recent key of the
   * channel stores nothing and resolves with the message first stored under
   * it (`repeated: true`), so a client can retry without doubling; the same
   * key with another text rejects with `KeyReusedError`; a new channel that
   * would be one too many rejects with `HubFullError`.
   */
  publish(channel: string, text: string, key?: string): Promise<PublishResult>;
  /**
   * Waits for the messages of `channel` after `since` (an opaque cursor, or
   * `undefined` for "the next one"). `'0'` asks for everything kept and is
   * answered at once, with an empty batch when there is nothing, so the
   * client learns its position. Throws `InvalidCursorError` when `since` is
   * not a cursor this hub could have made, `HubFullError` when the channel
   * would be one too many.
   */
  subscribe(channel: string, since: string | undefined, waiter: Waiter): Subscription;
  /**
   * The messages of `channel` after `since`, at once, never waiting: an
   * empty batch (whose cursor is where to ask from next) when there are
   * none. For clients that poll on an interval. Throws `InvalidCursorError`
   * like `subscribe()`.
   */
  read(channel: string, since: string | undefined): Promise<Batch>;
  stats(): HubStats;
  /** Releases every waiter and refuses further work. Idempotent. */
  close(): void;
}

/** What a publish resolves with. */
export interface PublishResult {
  readonly message: Message;
  /** The key was seen before: nothing new was stored. */
  readonly repeated: boolean;
}

/** An idempotency key came back with a different message. */
export class KeyReusedError extends Error {
  override readonly name = 'KeyReusedError';
}

/** The cursor is malformed, or points past anything this hub handed out. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

/** No room for another channel: every channel has waiters. */
export class HubFullError extends Error {
  override readonly name = 'HubFullError';
}

/** The hub was closed; nothing more is published. */
export class HubClosedError extends Error {
  override readonly name = 'HubClosedError';
}
