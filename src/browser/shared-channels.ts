/**
 * One connection per browser and transport for all the channels its tabs
 * follow. Browsers allow six HTTP/1.1 connections per host, so eight tabs on
 * eight channels, each with a `SharedFeed` of its own, would leave the
 * seventh connecting and the eighth page unloaded. Here the tab that holds
 * the transport's Web Lock runs one `ChannelsFeed` for the union of the
 * channels every tab wants, adds and drops channels as tabs come, go and
 * switch rooms, and posts each message on a `BroadcastChannel`; each tab
 * shows the channels it wants. When the leading tab closes or crashes the
 * lock passes to another, which asks every tab what it wants and carries on
 * from the newest cursors it heard. Without Web Locks or BroadcastChannel a
 * tab follows its channels alone. DOM-free.
 */

import { CHANNEL_NAME, OLDEST } from '../protocol.js';
import type { Message } from '../protocol.js';
import { ChannelsFeed } from '../client/channels-feed.js';
import type { ChannelsFeedOptions } from '../client/channels-feed.js';
import { CONNECTING } from '../client/reconnect.js';
import type { FeedState, StateDetail } from '../client/reconnect.js';
import { RecentIds } from '../client/recent-ids.js';
import { globalBus, globalLocks } from './shared-feed.js';
import type { Bus, Locks } from './shared-feed.js';

/** The part of a `ChannelsFeed` the leading tab uses. */
export type UnionFeed = Pick<ChannelsFeed, 'add' | 'remove' | 'cursor' | 'close' | 'channels'>;

/** The options: a `ChannelsFeed`'s, and how tabs find each other. */
export interface SharedChannelsOptions extends Omit<ChannelsFeedOptions, 'signal'> {
  /** Messages kept per channel to hand to a tab that starts following it. Default 500. */
  keep?: number;
  /** Default `navigator.locks`; `null` follows the channels in this tab alone. */
  locks?: Locks | null;
  /** Default `new BroadcastChannel(name)`; `null` follows the channels in this tab alone. */
  openBus?: ((name: string) => Bus) | null;
  /** Default `new ChannelsFeed(options)`. */
  createFeed?: (options: ChannelsFeedOptions) => UnionFeed;
}

type Note =
  /** A tab's whole set, each channel with the newest cursor the tab knows. */
  | { readonly type: 'want'; readonly from: string; readonly cursors: Readonly<Record<string, string>> }
  | { readonly type: 'bye'; readonly from: string }
  /** A new leading tab asks every tab for its set. */
  | { readonly type: 'roll' }
  /** What the leading tab has of a channel, for a tab that starts following it. */
  | { readonly type: 'sync'; readonly to: string; readonly channel: string; readonly messages: readonly Message[] }
  | { readonly type: 'message'; readonly channel: string; readonly message: Message }
  | { readonly type: 'missed'; readonly channel: string }
  | { readonly type: 'state'; readonly state: FeedState; readonly detail: StateDetail };

/** A channel this tab follows. */
interface Followed {
  cursor: string;
  readonly seen: RecentIds;
  /** Until the leading tab's sync for the channel, messages wait here so the history comes first. */
  waiting: Message[] | null;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A tab that heard no sync for a channel within this long shows what it buffered anyway. */
const SYNC_WAIT_MS = 3_000;

/**
 * @example
 * const rooms = new SharedChannels({ transport: 'longpoll', onMessage: (channel, m) => show(channel, m) });
 * rooms.add('news'); rooms.add('sport');
 */
export class SharedChannels {
  readonly #id = Math.random().toString(36).slice(2);
  readonly #options: SharedChannelsOptions;
  readonly #keep: number;
  readonly #lockAbort = new AbortController();
  readonly #mine = new Map<string, Followed>();
  #bus: Bus | null = null;
  /** While leading: the feed, every tab's set, and the recent messages of each channel. */
  #feed: UnionFeed | null = null;
  readonly #wants = new Map<string, Readonly<Record<string, string>>>();
  /**
   * The last messages of each channel heard, kept by every tab (not only the leading one), so
   * that whichever tab leads next can hand a tab joining a room what came before.
   */
  readonly #recent = new Map<string, Message[]>();
  readonly #recentIds = new Map<string, Set<string>>();
  #release: (() => void) | null = null;
  #state: FeedState = CONNECTING;
  #detail: StateDetail = { retryAt: null, error: null };
  #closed = false;

  constructor(options: SharedChannelsOptions = {}) {
    this.#options = options;
    this.#keep = options.keep ?? 500;
    const locks = options.locks === undefined ? globalLocks() : options.locks;
    const openBus = options.openBus === undefined ? globalBus() : options.openBus;
    if (!locks || !openBus) {
      void this.#lead();
      return;
    }
    const name = `pollcast channels ${options.base ?? '.'} ${options.transport ?? 'longpoll'}`;
    this.#bus = openBus(name);
    this.#bus.onmessage = (event) => this.#hear(event.data as Note);
    locks
      .request(name, { signal: this.#lockAbort.signal }, () => this.#lead())
      .catch(() => {
        // Aborted by close() before it was granted.
      });
  }

  /** Whether this tab holds the connection for all. */
  get leading(): boolean {
    return this.#feed !== null;
  }

  /** The state of the shared connection, as the leading tab reports it. */
  get state(): FeedState {
    return this.#state;
  }

  /** The channels this tab follows. */
  get channels(): string[] {
    return [...this.#mine.keys()];
  }

  /** The newest cursor this tab knows for `channel`. */
  cursor(channel: string): string | undefined {
    return this.#mine.get(channel)?.cursor;
  }

  /** Follows `channel` in this tab, from `since` (default its history); the history comes first. */
  add(channel: string, since: string = OLDEST): void {
    if (!CHANNEL_NAME.test(channel)) throw new TypeError(`invalid channel name: ${JSON.stringify(channel)}`);
    if (this.#closed || this.#mine.has(channel)) return;
    const followed: Followed = { cursor: since, seen: new RecentIds(), waiting: this.#bus && !this.leading ? [] : null, timer: undefined };
    if (followed.waiting) followed.timer = setTimeout(() => this.#flush(channel), SYNC_WAIT_MS);
    this.#mine.set(channel, followed);
    // Leading, on a channel other tabs already follow: what the connection brought so far comes first.
    if (this.#feed?.cursor(channel) !== undefined)
      for (const message of this.#recent.get(channel) ?? []) this.#accept(channel, followed, message);
    this.#announce();
  }

  /** Stops following `channel` in this tab; the connection drops it once no tab wants it. */
  remove(channel: string): void {
    const followed = this.#mine.get(channel);
    if (!followed) return;
    clearTimeout(followed.timer);
    this.#mine.delete(channel);
    this.#announce();
  }

  /** Stops; if this tab was leading, another takes over. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const followed of this.#mine.values()) clearTimeout(followed.timer);
    this.#lockAbort.abort();
    this.#post({ type: 'bye', from: this.#id });
    this.#feed?.close();
    this.#feed = null;
    this.#release?.();
    if (this.#bus) this.#bus.onmessage = null;
    this.#bus?.close();
  }

  #lead(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const { keep, locks, openBus, createFeed, onMessage, onMissed, onState, ...settings } = this.#options;
    const create = createFeed ?? ((feedOptions: ChannelsFeedOptions) => new ChannelsFeed(feedOptions));
    this.#feed = create({
      ...settings,
      onMessage: (channel, message) => {
        this.#remember(channel, message);
        this.#post({ type: 'message', channel, message });
        this.#deliver(channel, message);
      },
      onMissed: (channel) => {
        this.#post({ type: 'missed', channel });
        if (this.#mine.has(channel)) this.#options.onMissed?.(channel);
      },
      onState: (state, detail) => {
        this.#post({ type: 'state', state, detail });
        this.#show(state, detail);
      },
    });
    // What this tab heard as a follower is where the connection starts.
    for (const [channel, followed] of this.#mine) {
      this.#flush(channel);
      this.#feed.add(channel, followed.cursor);
    }
    this.#post({ type: 'roll' });
    return new Promise((resolve) => (this.#release = resolve));
  }

  #hear(note: Note): void {
    if (this.#closed) return;
    switch (note.type) {
      case 'want':
        if (this.#feed) this.#wanted(note.from, note.cursors);
        break;
      case 'bye':
        if (this.#feed) this.#wanted(note.from, undefined);
        break;
      case 'roll':
        this.#announce();
        break;
      case 'sync': {
        const followed = note.to === this.#id ? this.#mine.get(note.channel) : undefined;
        if (!followed) break;
        this.#rememberOlder(note.channel, note.messages);
        for (const message of note.messages) this.#accept(note.channel, followed, message);
        this.#flush(note.channel);
        break;
      }
      case 'message':
        this.#remember(note.channel, note.message);
        this.#deliver(note.channel, note.message);
        break;
      case 'missed':
        if (this.#mine.has(note.channel)) this.#options.onMissed?.(note.channel);
        break;
      case 'state':
        this.#show(note.state, note.detail);
        break;
    }
  }

  /** Leading: a tab's new set (or its end); the union follows, and a channel new to that tab gets its history. */
  #wanted(from: string, cursors: Readonly<Record<string, string>> | undefined): void {
    const before = this.#wants.get(from) ?? {};
    if (cursors) this.#wants.set(from, cursors);
    else this.#wants.delete(from);
    const feed = this.#feed!;
    for (const [channel, cursor] of Object.entries(cursors ?? {})) {
      if (channel in before) continue;
      if (feed.cursor(channel) === undefined) feed.add(channel, this.#mine.get(channel)?.cursor ?? cursor);
      this.#post({ type: 'sync', to: from, channel, messages: this.#recent.get(channel) ?? [] });
    }
    this.#prune();
    // A tab that just opened has heard no state yet.
    if (cursors) this.#post({ type: 'state', state: this.#state, detail: this.#detail });
  }

  /** Leading: drops from the connection every channel no tab wants. */
  #prune(): void {
    const feed = this.#feed;
    if (!feed) return;
    for (const channel of feed.channels) {
      if (this.#mine.has(channel) || [...this.#wants.values()].some((cursors) => channel in cursors)) continue;
      feed.remove(channel);
      this.#recent.delete(channel);
      this.#recentIds.delete(channel);
    }
  }

  /** Tells the leading tab this tab's set; the leading tab follows its own directly. */
  #announce(): void {
    if (this.#feed) {
      for (const [channel, followed] of this.#mine) {
        if (this.#feed.cursor(channel) === undefined) this.#feed.add(channel, followed.cursor);
        this.#flush(channel);
      }
      this.#prune();
      return;
    }
    const cursors: Record<string, string> = {};
    for (const [channel, followed] of this.#mine) cursors[channel] = followed.cursor;
    this.#post({ type: 'want', from: this.#id, cursors });
  }

  #remember(channel: string, message: Message): void {
    let recent = this.#recent.get(channel);
    let ids = this.#recentIds.get(channel);
    if (!recent || !ids) {
      this.#recent.set(channel, (recent = []));
      this.#recentIds.set(channel, (ids = new Set()));
    }
    if (ids.has(message.id)) return;
    ids.add(message.id);
    if (recent.push(message) > this.#keep) ids.delete(recent.shift()!.id);
  }

  /** What a sync brought: older than anything heard live since, so it goes first. */
  #rememberOlder(channel: string, messages: readonly Message[]): void {
    const later = this.#recent.get(channel) ?? [];
    this.#recent.delete(channel);
    this.#recentIds.delete(channel);
    for (const message of [...messages, ...later]) this.#remember(channel, message);
  }

  #deliver(channel: string, message: Message): void {
    const followed = this.#mine.get(channel);
    if (!followed) return;
    if (followed.waiting) {
      if (followed.waiting.push(message) > this.#keep) followed.waiting.shift();
      return;
    }
    this.#accept(channel, followed, message);
  }

  #flush(channel: string): void {
    const followed = this.#mine.get(channel);
    if (!followed) return;
    clearTimeout(followed.timer);
    const waiting = followed.waiting ?? [];
    followed.waiting = null;
    for (const message of waiting) this.#accept(channel, followed, message);
  }

  #accept(channel: string, followed: Followed, message: Message): void {
    followed.cursor = message.id;
    if (followed.seen.add(message.id)) this.#options.onMessage?.(channel, message);
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
