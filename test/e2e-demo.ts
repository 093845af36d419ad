/**
 * The classic demo's own page (test/fixtures/demo: its index.html and
 * browser.js, verbatim) served with --public, in Chromium and Firefox: its
 * inline script runs under the page policy, messages typed into its form
 * reach it, and idle polls come and go without a line of error text.
 */

import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Page } from 'puppeteer-core';
import { launchChromium, launchFirefox, waitFor } from './fixtures/browser.js';
import type { Launched } from './fixtures/browser.js';
import { publish, request } from './fixtures/http.js';
import { forkServer } from './fixtures/server.js';

const DEMO = fileURLToPath(new URL('./fixtures/demo/', import.meta.url));
/**
 * Short, so that idle polls end within the test; long enough that a message typed while a poll
 * is parked reaches it on a loaded machine (the demo's client sends no cursor: what is published
 * between two of its polls is lost to it, which docs/clients.md says).
 */
const POLL_TIMEOUT_MS = 2_000;

t.setTimeout(120_000);

/** The text of every line the demo's pane shows; an idle poll appends an empty one, which shows nothing. */
function lines(page: Page): Promise<string[]> {
  return page.evaluate(() => Array.from(document.querySelectorAll('#subscribe > div'), (div) => div.textContent ?? ''));
}

async function waitForLines(page: Page, wanted: string[]): Promise<void> {
  await waitFor(
    `the demo page showing ${JSON.stringify(wanted)}`,
    async () => {
      const shown = (await lines(page)).filter((text) => text !== '');
      return JSON.stringify(shown) === JSON.stringify(wanted) ? true : undefined;
    },
    async () => `it shows ${JSON.stringify(await lines(page))}`,
    15_000,
  );
}

async function waiting(origin: string): Promise<number> {
  return (JSON.parse((await request(origin, '/stats')).body) as { waiting: number }).waiting;
}

for (const [name, launch] of [
  ['chromium', launchChromium],
  ['firefox', launchFirefox],
] as const) {
  t.test(`the demo's unmodified page works in ${name}`, async (t) => {
    const { origin } = await forkServer(t, ['--public', DEMO, '--poll-timeout', String(POLL_TIMEOUT_MS)]);
    const launched: Launched = await launch();
    t.teardown(() => launched.close());
    const page = await launched.browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.goto(`${origin}/`);
    await waitFor(
      'the page parking a poll',
      async () => ((await waiting(origin)) > 0 ? true : undefined),
      async () => 'no poll held',
      15_000,
    );

    await page.type('input[name=message]', 'typed in the page');
    await page.keyboard.press('Enter');
    await waitForLines(page, ['typed in the page']);

    // Several idle polls end meanwhile: none may show as an error line ("No Content").
    await new Promise((resolve) => setTimeout(resolve, POLL_TIMEOUT_MS * 2.5));
    await waitFor(
      'the page parking its next poll',
      async () => ((await waiting(origin)) > 0 ? true : undefined),
      async () => 'no poll held',
      5_000,
    );
    await publish(origin, 'from curl, after idle polls');
    await waitForLines(page, ['typed in the page', 'from curl, after idle polls']);
    t.ok((await lines(page)).length > 2, 'idle polls did end (each appended an empty line)');
    t.same(errors, [], 'no script error: the inline script ran under the page policy');
  });
}
