/**
 * Wires the page: several rooms at once, on one connection per browser and
 * transport (`SharedChannels`, shared by every tab). The rooms joined are
 * remembered (localStorage) and listed with their unread counts; the room
 * shown comes from `?channel=` (default `default`), and switching rooms
 * changes it without a reload, every room's messages arriving meanwhile. The
 * transport comes from `?transport=` (default `longpoll`); changing it loads
 * the page again. The form publishes to the room shown.
 */

import { CHANNEL_NAME, DEFAULT_CHANNEL } from '../protocol.js';
import { isTransport } from '../client/feed.js';
import type { Transport } from '../client/feed.js';
import { PresenceView } from './presence-view.js';
import { PublishForm } from './publish-form.js';
import { RoomsPane } from './rooms-pane.js';
import { RoomsView } from './rooms-view.js';

const query = new URLSearchParams(location.search);
const channel = fromQuery('channel', (value) => CHANNEL_NAME.test(value), DEFAULT_CHANNEL);
const transport: Transport = fromQuery('transport', isTransport, 'longpoll');
document.documentElement.dataset.transport = transport;

// A token travels in the fragment (#token=…), which the browser never sends to any server. A fresh
// one comes from `#token_url=` (a same-origin URL of your application that answers one as text),
// else from the fragment again (an application that embeds the page updates it).
const fragment = (): URLSearchParams => new URLSearchParams(location.hash.slice(1));
let token = fragment().get('token') ?? undefined;
const tokenUrl = fragment().get('token_url');
const getToken =
  token === undefined
    ? undefined
    : async (): Promise<string> => {
        const fresh = tokenUrl
          ? await fetch(tokenUrl, { cache: 'no-store', credentials: 'same-origin' }).then((response) => response.text())
          : fragment().get('token');
        if (!fresh) throw new Error('no fresh token');
        token = fresh.trim();
        return token;
      };

// With a token, I am who it says (its `sub`); the name field is for open servers, and remembered.
const claims = token === undefined ? undefined : readClaims(token);
const nameField = find(HTMLInputElement, '#author');
const NAME_KEY = 'pollcast-name';
nameField.value = storedName() ?? '';
nameField.addEventListener('change', () => {
  try {
    localStorage.setItem(NAME_KEY, nameField.value.trim());
  } catch {
    // Storage may be off (private modes): the name then lasts for this page only.
  }
});
if (claims?.sub !== undefined) find(HTMLElement, '#publish-name').hidden = true;
const declared = (): string | undefined => nameField.value.trim() || undefined;
const me = () => (claims?.sub !== undefined ? { id: claims.sub } : { name: declared() });

const publisher = new PublishForm(find(HTMLFormElement, 'form[name=publish]'), {
  channel,
  token: () => token,
  name: declared,
  status: find(HTMLElement, '#publish-status'),
});

const presence = new PresenceView(find(HTMLElement, '#presence'), { channel, token: () => token });

const roomsList = new RoomsView(find(HTMLElement, '#rooms'), { onShow: show, onLeave: leave });
const pane = new RoomsPane(find(HTMLElement, '#panes'), {
  token,
  getToken,
  name: declared(),
  me,
  transport,
  status: find(HTMLElement, '#state'),
  notice: find(HTMLElement, '#notice'),
  onUnread: (room, unread) => roomsList.unread(room, unread),
});

// The rooms remembered, and the one asked for: the list lasts across reloads (and is shared by the tabs that open after).
const ROOMS_KEY = 'pollcast-rooms';
for (const room of [...storedRooms(), channel]) join(room);
show(channel);

const joinForm = find(HTMLFormElement, 'form[name=channel]');
const roomField = find(HTMLInputElement, '#channel-name');
joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = roomField.value.trim();
  if (!CHANNEL_NAME.test(room)) return;
  roomField.value = '';
  show(room);
  roomsList.focus(room);
});
const transports = find(HTMLSelectElement, '#transport');
transports.value = transport;
// Another transport is another connection: load the page again, on the room shown, keeping the fragment (and the #token).
transports.addEventListener('change', () => location.assign(`?${pageQuery(pane.shown ?? channel, transports.value)}${location.hash}`));

function join(room: string): void {
  if (pane.rooms.includes(room)) return;
  pane.join(room);
  roomsList.add(room);
  remember();
}

/** Shows `room` (joining it first): the list, the title, the address, where the form publishes and whose presence shows. */
function show(room: string): void {
  join(room);
  pane.show(room);
  roomsList.current = room;
  publisher.channel = room;
  presence.channel = room;
  document.title = `#${room} · pollcast`;
  find(HTMLElement, '#room-title').textContent = `#${room}`;
  history.replaceState(history.state, '', `?${pageQuery(room, transport)}${location.hash}`);
}

function leave(room: string): void {
  const rooms = pane.rooms;
  if (rooms.length < 2) return;
  const next = rooms[rooms.indexOf(room) + 1] ?? rooms[rooms.indexOf(room) - 1]!;
  if (pane.shown === room) show(next);
  pane.leave(room);
  roomsList.remove(room);
  // The focus was on the button just removed: it goes to the room shown.
  roomsList.focus(pane.shown ?? next);
  remember();
}

function pageQuery(room: string, via: string): string {
  return new URLSearchParams({ channel: room, transport: via }).toString();
}

function remember(): void {
  try {
    localStorage.setItem(ROOMS_KEY, JSON.stringify(pane.rooms));
  } catch {
    // Storage may be off (private modes): the rooms then last for this page only.
  }
}

function storedRooms(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(ROOMS_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((room): room is string => typeof room === 'string' && CHANNEL_NAME.test(room)) : [];
  } catch {
    return [];
  }
}

/** A JWT's payload, read without verifying (the server verifies): only to know who the page speaks for. */
function readClaims(jwt: string): { sub?: string; name?: string } | undefined {
  try {
    const payload = jwt.split('.')[1] ?? '';
    const json = new TextDecoder().decode(Uint8Array.from(atob(payload.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)));
    const value = JSON.parse(json) as { sub?: unknown; name?: unknown };
    return { sub: typeof value.sub === 'string' ? value.sub : undefined, name: typeof value.name === 'string' ? value.name : undefined };
  } catch {
    return undefined;
  }
}

function storedName(): string | null {
  try {
    return localStorage.getItem(NAME_KEY);
  } catch {
    return null;
  }
}

/** `?name=` when `valid` accepts it, else `fallback` (with a warning when there was a value). */
function fromQuery<T extends string>(name: string, valid: (value: string) => boolean, fallback: T): T {
  const requested = query.get(name);
  if (requested === null) return fallback;
  if (valid(requested)) return requested as T;
  console.warn(`pollcast: ignoring invalid ${name} ${JSON.stringify(requested)}; using ${fallback}`);
  return fallback;
}

/** The page's element for `selector`, which must be there and of that kind. */
function find<T extends Element>(kind: abstract new () => T, selector: string): T {
  const elem = document.querySelector(selector);
  if (!(elem instanceof kind)) throw new Error(`pollcast: the page lacks ${selector}`);
  return elem;
}
