import t from 'tap';
import { launchChromium, launchOrFail } from './fixtures/browser.js';
import { roomsScenarios } from './fixtures/e2e-rooms.js';
t.setTimeout(900_000);
const launched = await launchOrFail(t, launchChromium);
if (launched) t.test('rooms longpoll', async (t) => roomsScenarios(t, launched, 'longpoll', { twenty: true }));
