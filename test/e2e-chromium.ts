/** The end-to-end scenarios (test/fixtures/e2e.ts) in Debian's Chromium, plus ten tabs of one browser. */

import t from 'tap';
import { launchChromium } from './fixtures/browser.js';
import { e2eScenarios } from './fixtures/e2e.js';

// Real browsers and short outages with client backoff: more than tap's default per-file time.
t.setTimeout(300_000);
const launched = await launchChromium();
t.teardown(() => launched.close());
e2eScenarios(t, launched, { tenTabs: true });
