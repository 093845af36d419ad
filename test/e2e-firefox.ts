/** The end-to-end scenarios (test/fixtures/e2e.ts) in Debian's Firefox ESR, over WebDriver BiDi, for every transport. */

import t from 'tap';
import { launchFirefox, launchOrFail } from './fixtures/browser.js';
import { e2eScenarios } from './fixtures/e2e.js';
import { roomsScenarios } from './fixtures/e2e-rooms.js';
import { TRANSPORTS } from '../src/client/feed.js';

// Real browsers, four transports and short outages with client backoff: more than tap's default per-file time.
t.setTimeout(900_000);
const launched = await launchOrFail(t, launchFirefox);
if (launched) {
  for (const transport of TRANSPORTS) {
    t.test(transport, async (t) => e2eScenarios(t, launched, { transport }));
  }
  // Several rooms: on the long poll (which HTTP/1.1's six connections hurt most) and on a WebSocket.
  for (const transport of ['longpoll', 'websocket'] as const) {
    t.test(`rooms, ${transport}`, async (t) => roomsScenarios(t, launched, transport, { twenty: transport === 'longpoll' }));
  }
}
