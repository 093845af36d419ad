/** Many rooms in many tabs of one browser (test/fixtures/e2e-rooms.ts) in Debian's Firefox ESR, over server-sent events on HTTP/1.1. */

import t from 'tap';
import { launchFirefox, launchOrFail } from './fixtures/browser.js';
import { roomsScenarios } from './fixtures/e2e-rooms.js';

t.setTimeout(600_000);
const launched = await launchOrFail(t, launchFirefox);
if (launched) roomsScenarios(t, launched, 'eventsource');
