/**
 * The receiving half of the page: a `SharedFeed` drawn into the DOM. Messages
 * become children of the pane, as text only; the connection state and the
 * "messages were missed" notice live in elements of their own, outside it.
 */

import { CLOSED, CONNECTING, LIVE, OFFLINE, RECONNECTING } from '../client/reconnect.js';
import type { FeedState, StateDetail } from '../client/reconnect.js';
import { SharedFeed } from './shared-feed.js';
import type { SharedFeedOptions } from './shared-feed.js';
import type { From, Message } from '../protocol.js';
import type { FeedOptions } from '../client/feed-options.js';

/** The feed's settings the pane passes on (see `FeedOptions`), and where and how much it shows. */
export interface SubscribePaneOptions
  extends Pick<
    FeedOptions,
    'base' | 'channel' | 'token' | 'getToken' | 'name' | 'transport' | 'pollInterval' | 'fetch' | 'retryBase' | 'retryCap'
  > {
  /** Who "I" am, asked for each message: a message of mine is set apart (class `own`). Default nobody. */
  me?: () => Me;
  /** Shows the connection state (`data-state` is set on it). Default: a new element before the pane. */
  status?: HTMLElement;
  /** Unhidden when messages were missed; a button inside hides it again. Default: a new element before the pane. */
  notice?: HTMLElement;
  /** Most messages kept on screen; the oldest go first. Default 500. */
  limit?: number;
}

/** The words shown for each state. */
export const LABELS: Record<FeedState, string> = {
  [CONNECTING]: 'Connecting…',
  [LIVE]: 'Live',
  [RECONNECTING]: 'Reconnecting',
  [OFFLINE]: 'Offline',
  [CLOSED]: 'Stopped',
};

/** How close to the end (px) still counts as "following" the conversation. */
const FOLLOW_SLACK = 48;

const clock = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const shortTime = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const fullTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/**
 * Follows a channel and shows its messages in `elem`, one child per message.
 * The tabs of a browser share one feed (see `SharedFeed`). Stops when the
 * page goes away (`pagehide`, which also hands the poll to another tab) and,
 * if the page comes back from the back/forward cache, carries on from where
 * it stopped.
 *
 * @example
 * new SubscribePane(document.getElementById('subscribe'), { channel: 'news' });
 */
export class SubscribePane {
  #elem: HTMLElement;
  #status: HTMLElement;
  #label: HTMLElement;
  #detail: HTMLElement;
  #notice: HTMLElement;
  #limit: number;
  #feedOptions: SharedFeedOptions;
  #feed: SharedFeed;
  #pending: DocumentFragment | null = null;
  #me: () => Me;
  #closed = false;

  constructor(elem: HTMLElement, options: SubscribePaneOptions = {}) {
    const { status, notice, limit = 500, me, ...feed } = options;
    if (!(Number.isInteger(limit) && limit > 0)) throw new RangeError('limit must be a positive integer');
    this.#elem = elem;
    this.#limit = limit;
    this.#me = me ?? (() => ({}));
    this.#status = status ?? insertBefore(elem, 'p', 'state');
    this.#label = span('state-label');
    this.#detail = span('state-detail');
    this.#status.replaceChildren(this.#label, this.#detail);
    this.#notice = notice ?? defaultNotice(elem);
    this.#notice.addEventListener('click', this.#onNoticeClick);
    this.#feedOptions = {
      ...feed,
      onMessage: (message) => this.#add(message),
      onMissed: () => (this.#notice.hidden = false),
      onState: (state, detail) => this.#showState(state, detail),
    };
    this.#showState(CONNECTING, { retryAt: null, error: null });
    this.#feed = new SharedFeed(this.#feedOptions);
    addEventListener('pagehide', this.#onPageHide);
    addEventListener('pageshow', this.#onPageShow);
  }

  /** Stops following the channel for good; the messages stay on screen. Idempotent. */
  close(): void {
    this.#closed = true;
    removeEventListener('pagehide', this.#onPageHide);
    removeEventListener('pageshow', this.#onPageShow);
    this.#notice.removeEventListener('click', this.#onNoticeClick);
    this.#feed.close();
    this.#showState(CLOSED, { retryAt: null, error: null });
  }

  // Messages of one batch arrive in one synchronous run: gather them and touch the DOM once.
  #add(message: Message): void {
    if (!this.#pending) {
      this.#pending = document.createDocumentFragment();
      queueMicrotask(() => this.#flush());
    }
    this.#pending.append(renderMessage(message, this.#me));
  }

  #flush(): void {
    const elem = this.#elem;
    const following = elem.scrollHeight - elem.scrollTop - elem.clientHeight <= FOLLOW_SLACK;
    if (this.#pending) elem.append(this.#pending);
    this.#pending = null;
    while (elem.childElementCount > this.#limit) elem.firstElementChild?.remove();
    // Keep the newest in view, unless the reader has scrolled back to read older ones.
    if (following) elem.scrollTop = elem.scrollHeight;
  }

  #showState(state: FeedState, detail: StateDetail): void {
    this.#status.dataset.state = state;
    this.#label.textContent = LABELS[state];
    this.#detail.textContent = describe(state, detail);
  }

  #onNoticeClick = (event: Event): void => {
    if (event.target instanceof Element && event.target.closest('button')) this.#notice.hidden = true;
  };

  #onPageHide = (): void => this.#feed.close();

  #onPageShow = (event: PageTransitionEvent): void => {
    if (!event.persisted || this.#closed) return;
    const { cursor, seen } = this.#feed;
    this.#showState(CONNECTING, { retryAt: null, error: null });
    this.#feed = new SharedFeed({ ...this.#feedOptions, since: cursor, seen });
  };
}

/** Who the reader is: the verified id from their token, else the name they declared. */
export interface Me {
  readonly id?: string;
  readonly name?: string;
}

/** Whether a message is the reader's own: by verified id, else (open servers) by declared name. */
function isMine(from: From | undefined, me: Me): boolean {
  if (!from) return false;
  return from.verified ? from.id !== undefined && from.id === me.id : me.id === undefined && from.name === me.name;
}

/** A message as a list item: its author, its text (as text only) and its time; the reader's own set apart. */
export function renderMessage(message: Message, me: () => Me = () => ({})): HTMLElement {
  const item = document.createElement('li');
  const mine = isMine(message.from, me());
  item.className = mine ? 'message own' : 'message';
  if (message.from) {
    // A span, not a paragraph: the text stays the item's first <p>.
    const author = document.createElement('span');
    author.className = 'message-author';
    author.textContent = message.from.name;
    if (!message.from.verified) author.title = 'name not verified';
    // Set apart by colour and side on screen; said in words for a screen reader.
    if (mine) author.append(Object.assign(document.createElement('span'), { className: 'visually-hidden', textContent: ' (you)' }));
    item.append(author);
  }
  const text = document.createElement('p');
  text.className = 'message-text';
  text.textContent = message.text;
  item.append(text);
  if (Number.isFinite(message.time)) {
    const time = document.createElement('time');
    const date = new Date(message.time);
    time.dateTime = date.toISOString();
    time.textContent = (isToday(date) ? shortTime : dateTime).format(date);
    time.title = fullTime.format(date);
    item.append(time);
  }
  return item;
}

/** The detail shown next to a state: the next try, the last error. */
export function describe(state: FeedState, { retryAt, error }: StateDetail): string {
  const problem = error ? (error.status === null ? error.reason : `${error.status} ${error.reason}`) : '';
  switch (state) {
    case RECONNECTING:
      return [retryAt === null ? '' : `next try ${clock.format(retryAt)}`, problem].filter(Boolean).join(' · ');
    case CONNECTING:
      return problem && `after ${problem}`;
    case OFFLINE:
      return 'waiting for the network';
    default:
      return '';
  }
}

function isToday(date: Date): boolean {
  return date.toDateString() === new Date().toDateString();
}

function span(className: string): HTMLElement {
  const elem = document.createElement('span');
  elem.className = className;
  return elem;
}

function insertBefore(anchor: HTMLElement, tag: string, className: string): HTMLElement {
  const elem = document.createElement(tag);
  elem.className = className;
  anchor.before(elem);
  return elem;
}

function defaultNotice(anchor: HTMLElement): HTMLElement {
  const notice = insertBefore(anchor, 'div', 'notice');
  notice.setAttribute('role', 'alert');
  notice.hidden = true;
  const text = document.createElement('p');
  text.textContent = 'Some messages could not be delivered.';
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.textContent = 'Dismiss';
  notice.append(text, dismiss);
  return notice;
}
