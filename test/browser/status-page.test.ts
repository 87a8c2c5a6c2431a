/**
 * The status page in Debian's headless Chromium, driven by playwright-core: every model row shows,
 * Sleep on a ready vLLM-style model turns its badge to asleep, Wake turns it back to ready.
 * Screenshots go to test-artifacts/ (and to docs/img/ with SIESTA_UPDATE_DOCS_IMG=1).
 * Without /usr/bin/chromium (apt-get install chromium) the test is pending, never passed.
 */
import { expect } from 'chai';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { cleanup, configYaml, serve, threeModels } from '../integration/admin/support.js';

const CHROMIUM = process.env['SIESTA_CHROMIUM'] ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = `${ROOT}test-artifacts/`;
const DOCS_IMG = `${ROOT}docs/img/`;

function saveShot(name: string): void {
  if (process.env['SIESTA_UPDATE_DOCS_IMG'] === '1') {
    mkdirSync(DOCS_IMG, { recursive: true });
    copyFileSync(`${ARTIFACTS}${name}`, `${DOCS_IMG}${name}`);
  }
}

async function badge(page: Page, model: string): Promise<string | null> {
  return page.locator(`li[data-model="${model}"] .badge`).getAttribute('data-state');
}

describe('status page in headless Chromium', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;

  before(function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`    (status page test pending: ${CHROMIUM} not found; install it with "apt-get install -y chromium")`);
      this.skip();
    }
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  // One browser per test, closed before the clean-up checks that no child process is left.
  beforeEach(async function () {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  });

  afterEach(async function () {
    await browser?.close();
    browser = undefined;
    await cleanup();
  });

  it('shows every model, sleeps and wakes a vLLM-style model from its buttons', async function () {
    const { url } = await serve(await configYaml(threeModels()));
    const post = async (path: string): Promise<void> => {
      const response = await fetch(`${url}/api/models/${path}`, { method: 'POST' });
      expect(response.status, path).to.equal(200);
    };
    await post('qwen-small/load');
    await post('tiny-echo/load');
    await post('qwen-large/load');
    await post('qwen-large/sleep');

    const context = await browser!.newContext({ viewport: { width: 1280, height: 820 }, colorScheme: 'light' });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(`${url}/`);
    await page.locator('#conn[data-conn="live"]').waitFor();
    const rows = page.locator('#models li[data-model]');
    const ids = await Promise.all(Array.from({ length: await rows.count() }, (_, i) => rows.nth(i).getAttribute('data-model')));
    expect(ids).to.have.members(['qwen-small', 'qwen-large', 'tiny-echo']);
    expect(await badge(page, 'qwen-small')).to.equal('ready');
    expect(await badge(page, 'qwen-large')).to.equal('asleep');
    // The generic model cannot sleep: its Sleep button is disabled; a ready model cannot be loaded.
    expect(await page.locator('li[data-model="tiny-echo"] button[data-action="sleep"]').isDisabled()).to.equal(true);
    expect(await page.locator('li[data-model="qwen-small"] button[data-action="load"]').isDisabled()).to.equal(true);

    await page.locator('li[data-model="qwen-small"] button[data-action="sleep"]').click();
    await page.locator('li[data-model="qwen-small"] .badge[data-state="asleep"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('li[data-model="qwen-small"] button[data-action="wake"]').isEnabled()).to.equal(true);

    await page.locator('li[data-model="qwen-small"] button[data-action="wake"]').click();
    await page.locator('li[data-model="qwen-small"] .badge[data-state="ready"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('li[data-model="qwen-small"] .cell-state .note').textContent()).to.match(/^woke in /);
    // The Sleep cell names the method and the time of the last sleep's and wake's steps.
    expect(await page.locator('li[data-model="qwen-small"] .sleep-method').textContent()).to.match(/^http · sleep \d+ ms · wake \d+ ms$/);
    expect(await page.locator('li[data-model="tiny-echo"] .sleep-method').textContent()).to.equal('stop');

    // The log pane follows the selected model.
    await page.locator('li[data-model="qwen-small"] .name').click();
    expect(await page.locator('#log-source').inputValue()).to.equal('qwen-small');
    await page.locator('#log div', { hasText: 'ready on' }).first().waitFor();

    await page.screenshot({ path: `${ARTIFACTS}status-page.png`, fullPage: true });
    saveShot('status-page.png');

    // The same page on a phone, in dark mode, under /ui/.
    const phone = await browser!.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, colorScheme: 'dark', isMobile: true, hasTouch: true });
    const phonePage = await phone.newPage();
    await phonePage.goto(`${url}/ui/`);
    await phonePage.locator('#conn[data-conn="live"]').waitFor();
    expect(await phonePage.locator('#models li[data-model]').count()).to.equal(3);
    // A string, evaluated in the page (the tests are compiled without the DOM types).
    const width = Number(await phonePage.evaluate('document.documentElement.scrollWidth'));
    expect(width, 'no horizontal scrolling on a phone').to.be.at.most(390);
    await phonePage.screenshot({ path: `${ARTIFACTS}status-page-phone.png`, fullPage: true });
    saveShot('status-page-phone.png');

    expect(problems).to.deep.equal([]);
    await phone.close();
    await context.close();
  });

  it('reconnects and shows a fresh snapshot after the event stream is cut', async function () {
    const served = await serve(await configYaml(threeModels()), { prefix: '/llm' });
    const context = await browser!.newContext();
    const page = await context.newPage();
    // Under a prefix, without the trailing slash: the page redirects and still finds its files and API.
    await page.goto(served.url);
    expect(new URL(page.url()).pathname).to.equal('/llm/');
    await page.locator('#conn[data-conn="live"]').waitFor();
    // Cut every open connection: the page shows it and comes back by itself.
    served.server.closeAllConnections();
    await page.locator('#conn:not([data-conn="live"])').waitFor();
    await fetch(`${served.url}/api/models/tiny-echo/load`, { method: 'POST' });
    await page.locator('#conn[data-conn="live"]').waitFor({ timeout: 15_000 });
    await page.locator('li[data-model="tiny-echo"] .badge[data-state="ready"]').waitFor();
    await context.close();
  });
});
