/** Signed tokens, authors and presence (test/fixtures/e2e-identity.ts) in Debian's Chromium, over a long poll and a WebSocket. */

import t from 'tap';
import { launchChromium } from './fixtures/browser.js';
import { identityScenario } from './fixtures/e2e-identity.js';

t.setTimeout(300_000);
const launched = await launchChromium();
t.teardown(() => launched.close());
identityScenario(t, launched, 'longpoll');
identityScenario(t, launched, 'websocket');
