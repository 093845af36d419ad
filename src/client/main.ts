/**
 * Wires the page: the channel comes from `?channel=` (default `default`),
 * the form publishes to it and the pane follows it.
 */

import { CHANNEL_NAME, DEFAULT_CHANNEL } from '../protocol.js';
import { PublishForm } from './publish-form.js';
import { SubscribePane } from './subscribe-pane.js';

const requested = new URLSearchParams(location.search).get('channel');
const channel = requested !== null && CHANNEL_NAME.test(requested) ? requested : DEFAULT_CHANNEL;
if (requested !== null && channel !== requested) {
  console.warn(`pollcast: ignoring invalid channel name ${JSON.stringify(requested)}; using ${channel}`);
}

document.title = `#${channel} · pollcast`;
const picker = document.forms.namedItem('channel')?.elements.namedItem('channel');
if (picker instanceof HTMLInputElement) picker.value = channel;

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
  status: find(HTMLElement, '#state'),
  notice: find(HTMLElement, '#notice'),
});

/** The page's element for `selector`, which must be there and of that kind. */
function find<T extends Element>(kind: abstract new () => T, selector: string): T {
  const elem = document.querySelector(selector);
  if (!(elem instanceof kind)) throw new Error(`pollcast: the page lacks ${selector}`);
  return elem;
}
