/**
 * The receiving half of a page with several rooms: one `SharedChannels`
 * (one connection per browser and transport, whatever the rooms of its
 * tabs) drawn into one message list per room. Every room's messages keep
 * arriving while another is shown; the room shown is the list with the id
 * `subscribe` (the page's DOM contract), the others are hidden and count
 * what came unread.
 */

import { CLOSED, CONNECTING } from '../client/reconnect.js';
import type { FeedState, StateDetail } from '../client/reconnect.js';
import type { Message } from '../protocol.js';
import { SharedChannels } from './shared-channels.js';
import type { SharedChannelsOptions } from './shared-channels.js';
import { describe, LABELS, renderMessage } from './subscribe-pane.js';
import type { Me } from './subscribe-pane.js';

/** The connection's settings (see `SharedChannelsOptions`), and where and how much the pane shows. */
export interface RoomsPaneOptions extends Omit<SharedChannelsOptions, 'onMessage' | 'onMissed' | 'onState'> {
  /** Who "I" am, asked for each message: a message of mine is set apart (class `own`). Default nobody. */
  me?: () => Me;
  /** Shows the connection state (`data-state` is set on it). */
  status: HTMLElement;
  /** Unhidden when messages were missed (its `<p>` names the rooms); a button inside hides it again. */
  notice: HTMLElement;
  /** Most messages kept on screen per room; the oldest go first. Default 500. */
  limit?: number;
  /** A room's unread count changed (a message came while another room was shown, or it was shown). */
  onUnread?: (room: string, unread: number) => void;
}

/** One room's list and what the reader has not seen of it. */
interface Room {
  readonly list: HTMLOListElement;
  unread: number;
  pending: DocumentFragment | null;
  /** Whether the reader was at the end of the list when it was last shown: it then opens at the end again. */
  following: boolean;
  /** When the page joined it (ms since the epoch): the history older than that is not counted unread. */
  readonly joined: number;
}

/** How close to the end (px) still counts as "following" the conversation. */
const FOLLOW_SLACK = 48;

/**
 * @example
 * const pane = new RoomsPane(document.getElementById('panes'), { transport: 'longpoll', status, notice });
 * pane.join('news'); pane.join('sport'); pane.show('news');
 */
export class RoomsPane {
  readonly #elem: HTMLElement;
  readonly #status: HTMLElement;
  readonly #label: HTMLElement;
  readonly #detail: HTMLElement;
  readonly #notice: HTMLElement;
  readonly #limit: number;
  readonly #me: () => Me;
  readonly #options: RoomsPaneOptions;
  readonly #rooms = new Map<string, Room>();
  readonly #missed = new Set<string>();
  #feed: SharedChannels;
  #shown: string | undefined;
  #closed = false;

  constructor(elem: HTMLElement, options: RoomsPaneOptions) {
    const limit = options.limit ?? 500;
    if (!(Number.isInteger(limit) && limit > 0)) throw new RangeError('limit must be a positive integer');
    this.#elem = elem;
    this.#options = options;
    this.#limit = limit;
    this.#me = options.me ?? (() => ({}));
    this.#status = options.status;
    this.#label = span('state-label');
    this.#detail = span('state-detail');
    this.#status.replaceChildren(this.#label, this.#detail);
    this.#notice = options.notice;
    this.#notice.addEventListener('click', this.#onNoticeClick);
    this.#showState(CONNECTING, { retryAt: null, error: null });
    this.#feed = this.#connect();
    addEventListener('pagehide', this.#onPageHide);
    addEventListener('pageshow', this.#onPageShow);
  }

  /** The rooms joined, in the order joined. */
  get rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  /** The room shown. */
  get shown(): string | undefined {
    return this.#shown;
  }

  /** What came in `room` while it was not shown (not the history it brought when joined). */
  unread(room: string): number {
    return this.#rooms.get(room)?.unread ?? 0;
  }

  /** Follows `room` (its history first) in a list of its own, hidden until shown. */
  join(room: string): void {
    if (this.#rooms.has(room)) return;
    // The page's own list (`#subscribe`, the seed's hook in the markup) serves the first room.
    const list = this.#elem.querySelector<HTMLOListElement>('ol:not([data-room])') ?? document.createElement('ol');
    list.removeAttribute('id');
    list.removeAttribute('aria-live');
    list.className = 'messages';
    list.dataset.room = room;
    list.tabIndex = 0;
    list.hidden = true;
    this.#rooms.set(room, { list, unread: 0, pending: null, following: true, joined: Date.now() });
    this.#elem.append(list);
    this.#feed.add(room);
  }

  /** Stops following `room` and drops its list; the connection drops it once no tab wants it. */
  leave(room: string): void {
    const found = this.#rooms.get(room);
    if (!found) return;
    this.#feed.remove(room);
    found.list.remove();
    this.#rooms.delete(room);
    this.#missed.delete(room);
    if (this.#shown === room) this.#shown = undefined;
  }

  /** Shows `room` (joining it if need be): its list becomes `#subscribe` and its unread count 0. */
  show(room: string): void {
    this.join(room);
    const previous = this.#shown === undefined ? undefined : this.#rooms.get(this.#shown);
    if (previous) {
      previous.following = isFollowing(previous.list);
      previous.list.hidden = true;
      previous.list.removeAttribute('id');
      previous.list.removeAttribute('aria-live');
    }
    const next = this.#rooms.get(room)!;
    this.#shown = room;
    next.list.id = 'subscribe';
    next.list.setAttribute('aria-live', 'polite');
    next.list.setAttribute('aria-label', `Messages in #${room}`);
    next.list.hidden = false;
    if (next.following) next.list.scrollTop = next.list.scrollHeight;
    this.#setUnread(room, next, 0);
  }

  /** Stops following every room for good; the messages stay on screen. Idempotent. */
  close(): void {
    this.#closed = true;
    removeEventListener('pagehide', this.#onPageHide);
    removeEventListener('pageshow', this.#onPageShow);
    this.#notice.removeEventListener('click', this.#onNoticeClick);
    this.#feed.close();
    this.#showState(CLOSED, { retryAt: null, error: null });
  }

  #connect(since?: (room: string) => string | undefined): SharedChannels {
    const { me, status, notice, limit, onUnread, ...settings } = this.#options;
    const feed = new SharedChannels({
      ...settings,
      onMessage: (room, message) => this.#add(room, message),
      onMissed: (room) => this.#showMissed(room),
      onState: (state, detail) => this.#showState(state, detail),
    });
    for (const room of this.#rooms.keys()) feed.add(room, since?.(room));
    return feed;
  }

  // Messages of one batch arrive in one synchronous run: gather them and touch the DOM once per room.
  #add(name: string, message: Message): void {
    const room = this.#rooms.get(name);
    if (!room) return;
    if (!room.pending) {
      room.pending = document.createDocumentFragment();
      queueMicrotask(() => this.#flush(room));
    }
    room.pending.append(renderMessage(message, this.#me));
    if (name !== this.#shown && message.time >= room.joined) this.#setUnread(name, room, room.unread + 1);
  }

  #flush(room: Room): void {
    const list = room.list;
    const following = !list.hidden && isFollowing(list);
    if (room.pending) list.append(room.pending);
    room.pending = null;
    while (list.childElementCount > this.#limit) list.firstElementChild?.remove();
    // Keep the newest in view, unless the reader has scrolled back to read older ones.
    if (following) list.scrollTop = list.scrollHeight;
  }

  #setUnread(name: string, room: Room, unread: number): void {
    if (room.unread === unread) return;
    room.unread = unread;
    this.#options.onUnread?.(name, unread);
  }

  #showMissed(room: string): void {
    this.#missed.add(room);
    const text = this.#notice.querySelector('p');
    if (text) text.textContent = `Some messages of ${[...this.#missed].map((name) => `#${name}`).join(', ')} could not be delivered.`;
    this.#notice.hidden = false;
  }

  #showState(state: FeedState, detail: StateDetail): void {
    this.#status.dataset.state = state;
    this.#label.textContent = LABELS[state];
    this.#detail.textContent = describe(state, detail);
  }

  #onNoticeClick = (event: Event): void => {
    if (!(event.target instanceof Element && event.target.closest('button'))) return;
    this.#notice.hidden = true;
    this.#missed.clear();
  };

  // Closing hands the connection to another tab of the browser at once.
  #onPageHide = (): void => this.#feed.close();

  #onPageShow = (event: PageTransitionEvent): void => {
    if (!event.persisted || this.#closed) return;
    const old = this.#feed;
    this.#showState(CONNECTING, { retryAt: null, error: null });
    this.#feed = this.#connect((room) => old.cursor(room));
  };
}

function isFollowing(list: HTMLElement): boolean {
  return list.scrollHeight - list.scrollTop - list.clientHeight <= FOLLOW_SLACK;
}

function span(className: string): HTMLElement {
  const elem = document.createElement('span');
  elem.className = className;
  return elem;
}
