/**
 * Wires the page: the room shown first comes from `?channel=` (default
 * `default`) and the transport from `?transport=` (default `longpoll`); the
 * rooms pane follows every room joined over that transport, and the form
 * publishes to the room on screen. The header's form joins a room in place;
 * another transport loads the page again.
 */

import { CHANNEL_NAME, DEFAULT_CHANNEL } from '../protocol.js';
import { isTransport } from './feed.js';
import type { Transport } from './feed.js';
import { PublishForm } from './publish-form.js';
import { RoomsPane } from './rooms-pane.js';

const query = new URLSearchParams(location.search);
const channel = fromQuery('channel', (value) => CHANNEL_NAME.test(value), DEFAULT_CHANNEL);
const transport: Transport = fromQuery('transport', isTransport, 'longpoll');

document.title = `#${channel} · pollcast`;
const switcher = find(HTMLFormElement, 'form[name=channel]');
const picker = switcher.elements.namedItem('channel');
if (picker instanceof HTMLInputElement) picker.value = channel;
const transports = switcher.elements.namedItem('transport');
if (transports instanceof HTMLSelectElement) {
  transports.value = transport;
  transports.addEventListener('change', () => switcher.requestSubmit());
}
document.documentElement.dataset.transport = transport;
// A plain GET submit would drop the fragment, and with it the #token.
switcher.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = picker instanceof HTMLInputElement ? picker.value : channel;
  if (!(transports instanceof HTMLSelectElement) || transports.value === transport) return rooms.join(room);
  const next = new URLSearchParams();
  for (const [name, value] of new FormData(switcher)) if (typeof value === 'string') next.append(name, value);
  location.assign(`?${next.toString()}${location.hash}`);
});

// A token travels in the fragment (#token=…), which the browser never sends to any server.
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;

const publish = new PublishForm(find(HTMLFormElement, 'form[name=publish]'), {
  channel,
  token,
  status: find(HTMLElement, '#publish-status'),
});

const rooms = new RoomsPane(find(HTMLElement, '#subscribe'), {
  current: channel,
  token,
  transport,
  list: find(HTMLElement, '#rooms'),
  status: find(HTMLElement, '#state'),
  notice: find(HTMLElement, '#notice'),
  publish,
  onSwitch: (room) => {
    document.title = `#${room} · pollcast`;
    if (picker instanceof HTMLInputElement) picker.value = room;
    const next = new URLSearchParams(location.search);
    next.set('channel', room);
    history.replaceState(null, '', `?${next.toString()}${location.hash}`);
  },
});

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
