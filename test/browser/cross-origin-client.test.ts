/**
 * A browser front-end on another origin, in Debian's headless Chromium (playwright-core), talking
 * to siesta the way Open WebUI-style pages do: `fetch` lists the models and streams a chat
 * completion from the fake upstream through siesta. The page is served by a tiny static server on
 * another port (another origin), so every call is a real CORS request: with an API key the browser
 * sends a preflight for `Authorization`, which siesta answers before checking keys (as llama-swap).
 * `cors.origins` naming other origins keeps the page out: the browser refuses the answers.
 * Without /usr/bin/chromium (apt-get install chromium) the tests are pending, never passed.
 */
import { expect } from 'chai';
import express from 'express';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { listen } from '../e2e/peers-support.js';
import { cleanup, configYaml, genericCmd, listenOnLoopback, openGateway } from '../e2e/support.js';
import { assertNoChildren } from '../helpers/wait.js';

const CHROMIUM = process.env['SIESTA_CHROMIUM'] ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The client page: `siestaClient(base, key)` lists the models, then streams a chat, and reports what the page could read. */
const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>another origin</title></head><body>
<script>
window.siestaClient = async function (base, key, model) {
  const auth = key ? { authorization: 'Bearer ' + key } : {};
  const out = {};
  try {
    const list = await fetch(base + '/v1/models', { headers: auth });
    out.listStatus = list.status;
    const body = await list.json();
    out.models = (body.data || []).map((entry) => entry.id);
    if (body.error) out.listError = body.error.code;
  } catch (error) {
    out.listFailed = String(error);
  }
  try {
    const response = await fetch(base + '/v1/chat/completions', {
      method: 'POST',
      headers: Object.assign({ 'content-type': 'application/json' }, auth),
      body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hello' }] }),
    });
    out.chatStatus = response.status;
    if (!response.ok) {
      out.chatError = (await response.json()).error.code;
      return out;
    }
    out.contentType = response.headers.get('content-type');
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    out.reads = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out.reads += 1;
      text += decoder.decode(value, { stream: true });
    }
    const events = text.split('\\n\\n').filter((block) => block.startsWith('data: ')).map((block) => block.slice(6));
    out.done = events[events.length - 1] === '[DONE]';
    out.content = events.filter((event) => event !== '[DONE]').map((event) => JSON.parse(event)).map((event) => (event.choices && event.choices[0] && event.choices[0].delta && event.choices[0].delta.content) || '').join('');
  } catch (error) {
    out.chatFailed = String(error);
  }
  return out;
};
</script></body></html>`;

interface ClientResult {
  listStatus?: number;
  models?: string[];
  listError?: string;
  listFailed?: string;
  chatStatus?: number;
  chatError?: string;
  chatFailed?: string;
  contentType?: string;
  reads?: number;
  done?: boolean;
  content?: string;
}

/** The page's static server on its own port: another origin than siesta's. */
async function servePage(): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE_HTML);
  });
  const url = await listenOnLoopback(server);
  return url;
}

/** siesta on a real port, recording each request's method and path (preflights included). */
async function serveSiesta(global: Record<string, unknown>): Promise<{ url: string; seen: string[] }> {
  const h = await openGateway(await configYaml({ m1: { cmd: genericCmd('m1', ['--tokens', '12', '--token-interval', '15ms']) } }, global));
  const seen: string[] = [];
  const app = express();
  app.use(function recordRequest(req, _res, next) {
    seen.push(`${req.method} ${req.path}${req.method === 'OPTIONS' ? ` [${req.get('access-control-request-headers') ?? ''}]` : ''}`);
    next();
  });
  app.use(h.gateway.router);
  return { url: await listen(app), seen };
}

describe('a browser page on another origin, in headless Chromium', function () {
  this.timeout(60_000);
  let browser: Browser | undefined;

  before(function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`    (cross-origin browser test pending: ${CHROMIUM} not found; install it with "apt-get install -y chromium")`);
      this.skip();
    }
  });

  beforeEach(async function () {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  });

  afterEach(async function () {
    await browser?.close();
    browser = undefined;
    await cleanup();
    await assertNoChildren();
  });

  async function openPage(pageUrl: string): Promise<{ page: Page; problems: string[] }> {
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(`${pageUrl}/`);
    return { page, problems };
  }

  async function run(page: Page, base: string, key: string | null): Promise<ClientResult> {
    // A string, evaluated in the page (the tests are compiled without the DOM types).
    return page.evaluate<ClientResult>(`siestaClient(${JSON.stringify(base)}, ${JSON.stringify(key)}, 'm1')`);
  }

  it('without API keys: lists the models and streams a chat from the fake upstream', async function () {
    const pageUrl = await servePage();
    const siesta = await serveSiesta({});
    expect(new URL(pageUrl).origin).to.not.equal(new URL(siesta.url).origin);
    const { page, problems } = await openPage(pageUrl);
    const result = await run(page, siesta.url, null);
    expect(result).to.deep.include({ listStatus: 200, models: ['m1'], chatStatus: 200, done: true });
    expect(result.contentType).to.match(/^text\/event-stream/);
    expect(result.content, 'the fake upstream’s tokens, in order').to.be.a('string').and.not.equal('');
    expect(result.reads, 'the stream arrived in several reads, not buffered whole').to.be.greaterThan(1);
    expect(problems).to.deep.equal([]);
  });

  it('with an API key: the Authorization header is preflighted and answered before the key check; without the key the page reads the 401', async function () {
    const pageUrl = await servePage();
    const siesta = await serveSiesta({ apiKeys: ['browser-key'] });
    const { page } = await openPage(pageUrl);

    const withKey = await run(page, siesta.url, 'browser-key');
    expect(withKey).to.deep.include({ listStatus: 200, models: ['m1'], chatStatus: 200, done: true });
    expect(withKey.content).to.be.a('string').and.not.equal('');
    const preflights = siesta.seen.filter((line) => line.startsWith('OPTIONS '));
    expect(preflights, 'the browser asked before sending the key').to.include.members(['OPTIONS /v1/models [authorization]', 'OPTIONS /v1/chat/completions [authorization,content-type]']);

    // No key: both answers are 401s the page can read (not a network error), as an OpenAI client expects.
    const withoutKey = await run(page, siesta.url, null);
    expect(withoutKey).to.deep.include({ listStatus: 401, listError: 'unauthorized', chatStatus: 401, chatError: 'unauthorized' });
  });

  it('cors.origins: a page whose origin is not listed cannot read siesta; listed, it can', async function () {
    const pageUrl = await servePage();
    const closed = await serveSiesta({ cors: { origins: ['https://chat.example.com'] } });
    const { page } = await openPage(pageUrl);
    const blocked = await run(page, closed.url, null);
    expect(blocked.listFailed, 'the model list is refused by the browser').to.match(/TypeError|Failed to fetch/);
    expect(blocked.chatFailed, 'the chat is refused by the browser').to.match(/TypeError|Failed to fetch/);
    expect(blocked).to.not.have.property('chatStatus');
    // The chat never reached siesta past its preflight: the browser stopped at the answer without allow headers.
    expect(closed.seen).to.include('OPTIONS /v1/chat/completions [content-type]');
    expect(closed.seen).to.not.include('POST /v1/chat/completions');

    const open = await serveSiesta({ cors: { origins: ['https://chat.example.com', new URL(pageUrl).origin] } });
    const allowed = await run(page, open.url, null);
    expect(allowed).to.deep.include({ listStatus: 200, models: ['m1'], chatStatus: 200, done: true });
  });
});
