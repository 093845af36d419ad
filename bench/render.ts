/**
 * Renders the bench's HTML report to a PNG with headless Chromium (puppeteer-core, the system's
 * browser), so that a person — or a session — can look at it.
 *
 *   node dist-bench/render.js [report.html] [report.png]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Chromium without anything that talks to the network on its own (the tests' browsers too). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';

export async function renderPng(html: string, png: string, width = 1380): Promise<void> {
  const { launch } = await import('puppeteer-core');
  const profile = mkdtempSync(join(tmpdir(), 'pollcast-bench-chromium-'));
  const browser = await launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width, height: 900, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(resolve(html)).href, { waitUntil: 'load', timeout: 30_000 });
    await page.screenshot({ path: png as `${string}.png`, fullPage: true });
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const html = process.argv[2] ?? join(root, 'bench', 'results', 'report.html');
  const png = process.argv[3] ?? html.replace(/\.html$/, '') + '.png';
  await renderPng(html, png);
  process.stdout.write(`${png}\n`);
}
