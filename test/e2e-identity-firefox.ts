/** Signed tokens, authors and presence (test/fixtures/e2e-identity.ts) in Debian's Firefox ESR, over server-sent events. */

import t from 'tap';
import { launchFirefox } from './fixtures/browser.js';
import { identityScenario } from './fixtures/e2e-identity.js';

t.setTimeout(300_000);
const launched = await launchFirefox();
t.teardown(() => launched.close());
identityScenario(t, launched, 'eventsource');
