/** The end-to-end scenarios (test/fixtures/e2e.ts) in Debian's Firefox ESR, over WebDriver BiDi. */

import t from 'tap';
import { launchFirefox } from './fixtures/browser.js';
import { e2eScenarios } from './fixtures/e2e.js';

// Real browsers and short outages with client backoff: more than tap's default per-file time.
t.setTimeout(300_000);
const launched = await launchFirefox();
t.teardown(() => launched.close());
e2eScenarios(t, launched, { tenTabs: true });
