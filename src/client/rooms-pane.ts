/**
 * The page's rooms: every room joined is followed at once, on the one
 * connection the browser's tabs share (`SharedChannels`), whichever room is
 * on screen. The list of rooms is remembered (`localStorage`), each shows
 * how many messages came since it was last looked at, and switching shows
 * another room's messages without asking the server again: nothing is lost
 * or shown twice. The messages of the room on screen are the children of
 * the pane (`#subscribe`), as the single-room page had them.
 */

import { CHANNEL_NAME } from '../protocol.js';
import type { Message } from '../protocol.js';
import type { Transport } from './feed-options.js';
import type { PublishForm } from './publish-form.js';
import { CONNECTING } from './reconnect.js';
import type { FeedState, StateDetail } from './reconnect.js';
import { RecentIds } from './recent-ids.js';
import { SharedChannels } from './shared-channels.js';
import { LABELS, describe, renderMessage } from './subscribe-pane.js';

/** Where the joined rooms are remembered. */
const STORAGE_KEY = 'pollcast rooms';
/** Rooms remembered at most; the page follows all of them on one connection. */
const MAX_ROOMS = 32;
/** How close to the end (px) still counts as "following" the conversation. */
const FOLLOW_SLACK = 48;

/** What the rooms pane needs from the page. */
export interface RoomsPaneOptions {
  readonly transport: Transport;
  readonly token?: string;
  /** The room to show first (joined if it was not). */
  readonly current: string;
  /** The list of rooms (`<ul>`), filled here. */
  readonly list: HTMLElement;
  readonly status: HTMLElement;
  readonly notice: HTMLElement;
  /** Sends to the room on screen. */
  readonly publish: PublishForm;
  /** Called after a switch, with the room now on screen. */
  readonly onSwitch?: (channel: string) => void;
  /** Messages kept per room; the oldest go first. Default 500. */
  readonly limit?: number;
}

interface Room {
  readonly items: HTMLElement[];
  readonly seen: RecentIds;
  unread: number;
  missed: boolean;
  /** Its entry in the list, made on first showing. */
  entry: HTMLElement | undefined;
}

/**
 * @example
 * new RoomsPane(document.getElementById('subscribe'), { transport: 'longpoll', current: 'news', list, status, notice, publish });
 */
export class RoomsPane {
  readonly #elem: HTMLElement;
  readonly #options: RoomsPaneOptions;
  readonly #rooms = new Map<string, Room>();
  readonly #label = span('state-label');
  readonly #detail = span('state-detail');
  readonly #limit: number;
  #current: string;
  #feed: SharedChannels;

  constructor(elem: HTMLElement, options: RoomsPaneOptions) {
    this.#elem = elem;
    this.#options = options;
    this.#limit = options.limit ?? 500;
    this.#current = options.current;
    options.status.replaceChildren(this.#label, this.#detail);
    this.#showState(CONNECTING, { retryAt: null, error: null });
    options.notice.addEventListener('click', (event) => {
      if (event.target instanceof Element && event.target.closest('button')) this.#options.notice.hidden = true;
    });
    options.list.addEventListener('click', this.#onListClick);
    for (const channel of [...remembered(), options.current]) this.#rooms.set(channel, newRoom());
    this.#feed = this.#open();
    this.#render();
    this.#save();
    addEventListener('pagehide', () => this.#feed.close());
    addEventListener('pageshow', (event) => {
      if (event.persisted) this.#feed = this.#open();
    });
  }

  /** The room on screen. */
  get current(): string {
    return this.#current;
  }

  /** Joins `channel` (when new) and shows it. */
  join(channel: string): void {
    if (!CHANNEL_NAME.test(channel)) return;
    if (!this.#rooms.has(channel)) {
      if (this.#rooms.size >= MAX_ROOMS) return;
      this.#rooms.set(channel, newRoom());
      this.#feed.add(channel);
      this.#save();
    }
    this.show(channel);
  }

  /** Leaves `channel`: it is no longer followed or listed. The last room cannot be left. */
  leave(channel: string): void {
    if (!this.#rooms.has(channel) || this.#rooms.size === 1) return;
    this.#rooms.delete(channel);
    this.#feed.remove(channel);
    this.#save();
    if (channel === this.#current) this.show(this.#rooms.keys().next().value!);
    else this.#render();
  }

  /** Shows `channel`'s messages (kept while it was not on screen) and sends to it from now on. */
  show(channel: string): void {
    const room = this.#rooms.get(channel);
    if (!room) return;
    this.#current = channel;
    room.unread = 0;
    this.#options.notice.hidden = !room.missed;
    this.#elem.replaceChildren(...room.items);
    this.#elem.scrollTop = this.#elem.scrollHeight;
    this.#options.publish.channel = channel;
    this.#render();
    this.#options.onSwitch?.(channel);
  }

  #open(): SharedChannels {
    const feed = new SharedChannels({
      transport: this.#options.transport,
      token: this.#options.token,
      onMessage: (channel, message) => this.#add(channel, message),
      onMissed: (channel) => this.#missed(channel),
      onState: (state, detail) => this.#showState(state, detail),
    });
    for (const channel of this.#rooms.keys()) feed.add(channel, this.#feed?.cursor(channel));
    return feed;
  }

  #add(channel: string, message: Message): void {
    const room = this.#rooms.get(channel);
    if (!room?.seen.add(message.id)) return;
    const item = renderMessage(message);
    room.items.push(item);
    const dropped = room.items.length > this.#limit ? room.items.shift() : undefined;
    if (channel !== this.#current) {
      room.unread++;
      this.#render();
      return;
    }
    const elem = this.#elem;
    const following = elem.scrollHeight - elem.scrollTop - elem.clientHeight <= FOLLOW_SLACK;
    elem.append(item);
    dropped?.remove();
    if (following) elem.scrollTop = elem.scrollHeight;
  }

  #missed(channel: string): void {
    const room = this.#rooms.get(channel);
    if (!room) return;
    room.missed = true;
    if (channel === this.#current) this.#options.notice.hidden = false;
  }

  #showState(state: FeedState, detail: StateDetail): void {
    this.#options.status.dataset.state = state;
    this.#label.textContent = LABELS[state];
    this.#detail.textContent = describe(state, detail);
  }

  /**
   * The list: one entry per room, the one on screen marked, unread counts, a
   * way to leave. Entries are updated in place, so the button a keyboard or a
   * finger is on stays the same element while messages arrive.
   */
  #render(): void {
    const entries: HTMLElement[] = [];
    for (const [channel, room] of this.#rooms) {
      room.entry ??= newEntry(channel);
      const [open, leave] = room.entry.children as unknown as [HTMLElement, HTMLElement];
      if (channel === this.#current) open.setAttribute('aria-current', 'true');
      else open.removeAttribute('aria-current');
      const badge = open.querySelector<HTMLElement>('.unread')!;
      badge.hidden = room.unread === 0;
      badge.firstChild!.textContent = String(room.unread);
      leave.hidden = this.#rooms.size === 1;
      entries.push(room.entry);
    }
    const list = this.#options.list;
    if (entries.length !== list.children.length || entries.some((entry, i) => list.children[i] !== entry)) list.replaceChildren(...entries);
  }

  #onListClick = (event: Event): void => {
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    if (!button) return;
    if (button.dataset.leave) this.leave(button.dataset.leave);
    else if (button.dataset.channel) this.show(button.dataset.channel);
  };

  #save(): void {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify([...this.#rooms.keys()]));
    } catch {
      // Storage full or refused (private mode): the rooms are then not remembered.
    }
  }
}

function newRoom(): Room {
  return { items: [], seen: new RecentIds(), unread: 0, missed: false, entry: undefined };
}

/** A room's entry in the list: its button (name, unread count) and the button that leaves it. */
function newEntry(channel: string): HTMLElement {
  const item = document.createElement('li');
  item.className = 'room';
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'room-open';
  open.dataset.channel = channel;
  const badge = span('unread');
  const words = span('visually-hidden');
  words.textContent = ' unread';
  badge.append('0', words);
  open.append(`#${channel} `, badge);
  const leave = document.createElement('button');
  leave.type = 'button';
  leave.className = 'room-leave';
  leave.dataset.leave = channel;
  leave.setAttribute('aria-label', `Leave #${channel}`);
  leave.textContent = '×';
  item.append(open, leave);
  return item;
}

/** The rooms remembered, valid names only, at most `MAX_ROOMS`. */
function remembered(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((name): name is string => typeof name === 'string' && CHANNEL_NAME.test(name)).slice(0, MAX_ROOMS) : [];
  } catch {
    return [];
  }
}

function span(className: string): HTMLElement {
  const elem = document.createElement('span');
  elem.className = className;
  return elem;
}
