/**
 * One feed per channel for all the tabs of a browser, whatever its transport. Browsers allow six
 * HTTP/1.1 connections per host: with a poll or a stream held per tab, the
 * seventh tab (and every publish) would hang. So the tab that holds the
 * channel's Web Lock follows it, and tells the others over a BroadcastChannel; when it closes or
 * crashes the browser hands the lock to another tab, which carries on from
 * the last cursor it heard. Without Web Locks or BroadcastChannel every tab
 * follows the channel itself. DOM-free, so it runs under tap with fakes.
 */

import { CHANNEL_NAME, DEFAULT_CHANNEL, OLDEST } from '../protocol.js';
import type { Message } from '../protocol.js';
import { createFeed } from '../client/feed.js';
import type { Feed, FeedOptions } from '../client/feed.js';
import { CONNECTING } from '../client/reconnect.js';
import type { FeedState, StateDetail } from '../client/reconnect.js';
import { RecentIds } from '../client/recent-ids.js';

/** The part of `navigator.locks` used here. */
export interface Locks {
  request(name: string, options: { signal: AbortSignal }, granted: () => Promise<void>): Promise<unknown>;
}

/** The part of a `BroadcastChannel` used here. */
export interface Bus {
  onmessage: ((event: { data: unknown }) => void) | null;
  postMessage(note: unknown): void;
  close(): void;
}

/** The part of a `Feed` used here. */
export type FollowedFeed = Pick<Feed, 'cursor' | 'close'>;

/**
 * The feed's options (all but `signal`: `close()` stops a shared feed), where `since` only counts
 * when no other tab knows better and the listeners hear every message
 * whichever tab received it. Tabs share per channel and transport.
 */
export interface SharedFeedOptions extends Omit<FeedOptions, 'signal'> {
  /** Ids already shown (when a page comes back from the back/forward cache). Default empty. */
  seen?: RecentIds;
  /** Messages each tab keeps to hand to a tab opened later. Default 500. */
  keep?: number;
  /** Default `navigator.locks`; `null` follows the channel in this tab alone. */
  locks?: Locks | null;
  /** Opens a bus; default `new BroadcastChannel(name)`; `null` follows the channel in this tab alone. */
  openBus?: ((name: string) => Bus) | null;
  /** Default `createFeed(options)`. */
  createFeed?: (options: FeedOptions) => FollowedFeed;
}

/** What tabs tell each other. */
type Note =
  /** A tab just opened and asks the leading tab for what it has. */
  | { readonly type: 'hello'; readonly from: string }
  /** The leading tab's recent messages, for one tab (`to`) or, from a new leader, for all (`to: null`). */
  | {
      readonly type: 'sync';
      readonly to: string | null;
      readonly messages: readonly Message[];
      readonly cursor: string;
      readonly state: FeedState;
      readonly detail: StateDetail;
    }
  | { readonly type: 'message'; readonly message: Message }
  | { readonly type: 'missed' }
  | { readonly type: 'state'; readonly cursor: string; readonly state: FeedState; readonly detail: StateDetail };

/** A tab that heard nobody answer its hello within this long shows what it buffered anyway. */
const SYNC_WAIT_MS = 3_000;

const NO_DETAIL: StateDetail = { retryAt: null, error: null };

/**
 * Follows a channel, sharing one feed among the tabs of the browser.
 *
 * @example
 * const feed = new SharedFeed({ channel: 'news', onMessage: (m) => show(m) });
 * addEventListener('pagehide', () => feed.close());
 */
export class SharedFeed {
  readonly #id = Math.random().toString(36).slice(2);
  readonly #options: SharedFeedOptions;
  readonly #seen: RecentIds;
  readonly #keep: number;
  readonly #lockAbort = new AbortController();
  #recent: Message[] = [];
  #cursor: string;
  #state: FeedState = CONNECTING;
  #detail: StateDetail = NO_DETAIL;
  #bus: Bus | null = null;
  #feed: FollowedFeed | null = null;
  /** Set while this tab holds the lock; calling it gives the lock up. */
  #release: (() => void) | null = null;
  /** Until the leading tab has answered, messages heard wait here so that history comes first. */
  #waiting: Message[] | null = [];
  #syncTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: SharedFeedOptions = {}) {
    const channel = options.channel ?? DEFAULT_CHANNEL;
    if (!CHANNEL_NAME.test(channel)) throw new TypeError(`invalid channel name: ${JSON.stringify(channel)}`);
    this.#options = options;
    this.#cursor = options.since ?? OLDEST;
    this.#seen = options.seen ?? new RecentIds();
    this.#keep = options.keep ?? 500;
    const locks = options.locks === undefined ? globalLocks() : options.locks;
    const openBus = options.openBus === undefined ? globalBus() : options.openBus;
    if (!locks || !openBus) {
      void this.#lead();
      return;
    }
    const name = `pollcast ${options.base ?? '.'} ${channel} ${options.transport ?? 'longpoll'}`;
    this.#bus = openBus(name);
    this.#bus.onmessage = (event) => this.#hear(event.data as Note);
    this.#post({ type: 'hello', from: this.#id });
    this.#syncTimer = setTimeout(() => this.#flushWaiting(), SYNC_WAIT_MS);
    // The lock is held for as long as the promise from #lead() is pending: until close(), or until the tab dies.
    locks
      .request(name, { signal: this.#lockAbort.signal }, () => this.#lead())
      .catch(() => {
        // Aborted by close() before it was granted.
      });
  }

  /** Whether this tab is the one following the channel for all. */
  get leading(): boolean {
    return this.#feed !== null;
  }

  /** The newest cursor this tab knows; a new feed started from it misses nothing. */
  get cursor(): string {
    return this.#feed?.cursor ?? this.#cursor;
  }

  /** The ids shown so far; hand them to a feed that replaces this one. */
  get seen(): RecentIds {
    return this.#seen;
  }

  /** Stops following; if this tab was leading, another tab takes over. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#syncTimer);
    this.#lockAbort.abort();
    this.#feed?.close();
    this.#feed = null;
    this.#release?.();
    this.#release = null;
    if (this.#bus) this.#bus.onmessage = null;
    this.#bus?.close();
  }

  /** This tab got the lock: follow from the newest cursor heard, and tell every other tab what it has. */
  #lead(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flushWaiting();
    // The feed's own settings pass on; the listeners and the cursor are the shared ones.
    const { seen, keep, locks, openBus, createFeed: create = createFeed, since, onMessage, onMissed, onState, ...settings } = this.#options;
    this.#feed = create({
      ...settings,
      since: this.#cursor,
      onMessage: (message) => this.#received(message),
      onMissed: () => {
        this.#post({ type: 'missed' });
        this.#options.onMissed?.();
      },
      onState: (state, detail) => {
        this.#post({ type: 'state', cursor: this.cursor, state, detail });
        this.#show(state, detail);
      },
    });
    this.#post({ type: 'sync', to: null, messages: this.#recent, cursor: this.cursor, state: this.#state, detail: this.#detail });
    return new Promise((resolve) => (this.#release = resolve));
  }

  #received(message: Message): void {
    this.#cursor = message.id;
    if (this.#accept(message)) this.#post({ type: 'message', message });
  }

  #hear(note: Note): void {
    if (this.#closed) return;
    switch (note.type) {
      case 'hello':
        if (this.leading)
          this.#post({
            type: 'sync',
            to: note.from,
            messages: this.#recent,
            cursor: this.cursor,
            state: this.#state,
            detail: this.#detail,
          });
        break;
      case 'sync':
        if (note.to !== null && note.to !== this.#id) break;
        for (const message of note.messages) this.#accept(message);
        this.#cursor = note.cursor;
        this.#flushWaiting();
        this.#show(note.state, note.detail);
        break;
      case 'message':
        if (this.#waiting) {
          if (this.#waiting.push(note.message) > this.#keep) this.#waiting.shift();
        } else {
          this.#cursor = note.message.id;
          this.#accept(note.message);
        }
        break;
      case 'missed':
        this.#options.onMissed?.();
        break;
      case 'state':
        this.#cursor = note.cursor;
        this.#show(note.state, note.detail);
        break;
    }
  }

  #flushWaiting(): void {
    clearTimeout(this.#syncTimer);
    const waiting = this.#waiting;
    this.#waiting = null;
    for (const message of waiting ?? []) {
      this.#cursor = message.id;
      this.#accept(message);
    }
  }

  /** Shows a message unless it was shown already; false for a repeat. */
  #accept(message: Message): boolean {
    if (!this.#seen.add(message.id)) return false;
    this.#recent.push(message);
    if (this.#recent.length > this.#keep) this.#recent.shift();
    this.#options.onMessage?.(message);
    return true;
  }

  #show(state: FeedState, detail: StateDetail): void {
    this.#state = state;
    this.#detail = detail;
    this.#options.onState?.(state, detail);
  }

  #post(note: Note): void {
    this.#bus?.postMessage(note);
  }
}

/** `navigator.locks`, where there is one. */
export function globalLocks(): Locks | null {
  const nav = (globalThis as { navigator?: { locks?: Locks } }).navigator;
  return nav?.locks ?? null;
}

/** Opens a `BroadcastChannel`, where there is one. */
export function globalBus(): ((name: string) => Bus) | null {
  const Channel = (globalThis as { BroadcastChannel?: new (name: string) => Bus }).BroadcastChannel;
  return Channel ? (name) => new Channel(name) : null;
}
