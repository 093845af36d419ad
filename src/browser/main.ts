/**
 * Wires the page: the channel comes from `?channel=` (default `default`) and
 * the transport from `?transport=` (default `longpoll`); the form publishes
 * to the channel and the pane follows it over that transport. The header's
 * form switches either by loading the page again.
 */

import { CHANNEL_NAME, DEFAULT_CHANNEL } from '../protocol.js';
import { isTransport } from '../client/feed.js';
import type { Transport } from '../client/feed.js';
import { PublishForm } from './publish-form.js';
import { SubscribePane } from './subscribe-pane.js';

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
  const next = new URLSearchParams();
  for (const [name, value] of new FormData(switcher)) if (typeof value === 'string') next.append(name, value);
  location.assign(`?${next.toString()}${location.hash}`);
});

// A token travels in the fragment (#token=…), which the browser never sends to any server.
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;

new PublishForm(find(HTMLFormElement, 'form[name=publish]'), {
  channel,
  token,
  status: find(HTMLElement, '#publish-status'),
});

new SubscribePane(find(HTMLElement, '#subscribe'), {
  channel,
  token,
  transport,
  status: find(HTMLElement, '#state'),
  notice: find(HTMLElement, '#notice'),
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
