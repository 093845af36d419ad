import type { Batch, From, Message } from './protocol.js';

/**
 * Someone waiting for messages: a long poll, a stream. The hub calls exactly
 * one of `deliver`, `release` and `fail`, exactly once, and never from inside
 * `subscribe()` itself.
 */
export interface Waiter {
  /**
   * Messages after the waiter's cursor exist (or some were missed). Returns
   * how many of them it passed on, for `/stats` (a plain-text poll sends
   * only the first); returning nothing means all of them.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a waiter that passes on every message may return nothing.
  deliver(batch: Batch): number | void;
  /** The hub is closing; the wait ends with nothing. */
  release(): void;
  /**
   * The wait could not be set up after all: a hub that has to ask its
   * storage first learns only then that the cursor is ahead of the channel
   * (`InvalidCursorError`), that the storage cannot be reached
   * (`StorageUnavailableError`) or that there is no room (`HubFullError`).
   * A hub that can tell at once throws from `subscribe()` instead.
   */
  fail(error: Error): void;
  /**
   * The wait is in place and `Subscription.cursor` is now known. Called, once
   * and before anything else, only when the cursor was still undefined as
   * `subscribe()` returned; never after `fail`.
   */
  started?(): void;
}

/** What `subscribe()` hands back: where the wait starts, and how to leave. */
export interface Subscription {
  /**
   * The resolved cursor the wait started from; resuming from it loses
   * nothing. An in-memory hub knows it when `subscribe()` returns; a hub
   * that must first ask its storage leaves it `undefined` until it calls the
   * waiter (`started`, `deliver`, or `fail`, which leaves it undefined).
   */
  readonly cursor: string | undefined;
  /** Stops the wait; the waiter is not called after this. Idempotent. */
  cancel(): void;
}

/** Where a hub keeps history, for `/stats`: absent for the in-memory hub. */
export interface StorageStats {
  readonly kind: 'redis';
  /** Whether the storage answers right now; while false, publishes get 503. */
  readonly up: boolean;
}

/** Counters for `/stats`. */
export interface HubStats {
  /** Waiters held right now. */
  readonly waiting: number;
  /** Channels with history or waiters. */
  readonly channels: number;
  /** Messages accepted since start. */
  readonly published: number;
  /** Messages passed on to subscribers since start (one per message per subscriber). */
  readonly delivered: number;
  /**
   * Heap bytes charged against the history budget (in this process): kept
   * messages at their cost, text, overhead and key, and channels.
   */
  readonly bytes: number;
  /** Where history lives, when not in this process. */
  readonly storage?: StorageStats;
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
   * would be one too many rejects with `HubFullError`; storage that cannot
   * be reached rejects with `StorageUnavailableError` (nothing was
   * acknowledged, though it may have been stored). `from` (who published
   * it) is stored with the message and handed out with it.
   */
  publish(channel: string, text: string, key?: string, from?: From): Promise<PublishResult>;
  /**
   * Waits for the messages of `channel` after `since` (an opaque cursor, or
   * `undefined` for "the next one"). `'0'` asks for everything kept and is
   * answered at once, with an empty batch when there is nothing, so the
   * client learns its position. Throws `InvalidCursorError` when `since` is
   * not a cursor this hub could have made, `HubFullError` when the channel
   * would be one too many — or, for a hub that must ask its storage first,
   * reports either (or `StorageUnavailableError`) through `waiter.fail`.
   */
  subscribe(channel: string, since: string | undefined, waiter: Waiter): Subscription;
  /**
   * The messages of `channel` after `since`, at once, never waiting: an
   * empty batch (whose cursor is where to ask from next) when there are
   * none. For clients that poll on an interval. Throws `InvalidCursorError`
   * like `subscribe()`, or rejects with it (and `StorageUnavailableError`).
   */
  read(channel: string, since: string | undefined): Promise<Batch>;
  stats(): HubStats;
  /**
   * Connects to the hub's storage, if it has one; `listen()` awaits it
   * before binding. Rejects when the storage cannot be reached.
   */
  open?(): Promise<void>;
  /**
   * Releases every waiter at once and refuses further work; resolves once
   * the storage connections (if any) are closed. Idempotent.
   */
  close(): Promise<void>;
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

/** The hub's storage (Redis) cannot be reached right now; try again shortly. */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
}

/** The hub was closed; nothing more is published. */
export class HubClosedError extends Error {
  override readonly name = 'HubClosedError';
}
