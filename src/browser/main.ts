/**
 * Wires the page: the channel comes from `?channel=` (default `default`) and
 * the transport from `?transport=` (default `longpoll`); the form publishes
 * to the channel and the pane follows it over that transport. The header's
 * form switches either by loading the page again.
 */

import { CHANNEL_NAME, DEFAULT_CHANNEL } from '../protocol.js';
import { isTransport } from '../client/feed.js';
import type { Transport } from '../client/feed.js';
import { PresenceView } from './presence-view.js';
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

new PublishForm(find(HTMLFormElement, 'form[name=publish]'), {
  channel,
  token: () => token,
  name: declared,
  status: find(HTMLElement, '#publish-status'),
});

new SubscribePane(find(HTMLElement, '#subscribe'), {
  channel,
  token,
  getToken,
  name: declared(),
  me,
  transport,
  status: find(HTMLElement, '#state'),
  notice: find(HTMLElement, '#notice'),
});

new PresenceView(find(HTMLElement, '#presence'), { channel, token: () => token });

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
