'use strict';
/**
 * P9's baseline: Playwright driving the same Chromium (`CHROMIUM_PATH`) with the renderer's
 * own launch flags, behind a tiny node:http server so the orchestrator calls it exactly as it
 * calls the renderer (one HTTP round trip per render, JSON answer). No egress proxy, no
 * storage-state export: what a render costs without the renderer's work around it.
 *
 *   GET  /ready          launches Chromium (then the orchestrator pins this process)
 *   POST /reused/<slot>  {url}: goto + content on the slot's one page (a context per slot)
 *   POST /fresh          {url}: newContext + newPage + goto + content, context closed after
 *   POST /parked         {url, count}: `count` contexts, each with a page that rendered `url`
 *                        and was then parked on about:blank, kept open (memory per context)
 *
 * Every render answers { ms, html_bytes }; `ms` is measured here, the orchestrator measures
 * its own latency around the request.
 */
const http = require('node:http');
const path = require('node:path');
const { chromium } = require('playwright-core');

const { PLAYWRIGHT_LAUNCH_ARGS } = require(path.join(__dirname, '..', '..', 'dist', 'headless', 'browser.service.js'));

let browser;
const slots = new Map();
const parked = [];

async function launch() {
  browser ??= await chromium.launch({ executablePath: process.env.CHROMIUM_PATH, headless: true, args: PLAYWRIGHT_LAUNCH_ARGS });
  return browser;
}

async function slotPage(slot) {
  if (!slots.has(slot)) slots.set(slot, (async () => (await (await launch()).newContext()).newPage())());
  return slots.get(slot);
}

async function render(page, url) {
  await page.goto(url, { waitUntil: 'load' });
  return page.content();
}

const routes = {
  reused: async ({ url }, slot) => render(await slotPage(slot), url),
  fresh: async ({ url }) => {
    const context = await (await launch()).newContext();
    try {
      return await render(await context.newPage(), url);
    } finally {
      await context.close();
    }
  },
  parked: async ({ url, count }) => {
    for (let i = 0; i < count; i++) {
      const context = await (await launch()).newContext();
      const page = await context.newPage();
      await render(page, url);
      await page.goto('about:blank');
      parked.push(context);
    }
    return '';
  },
};

const server = http.createServer((req, res) => {
  const [, route, slot] = req.url.split('/');
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', async () => {
    try {
      if (route === 'ready') {
        await launch();
        res.end('{}');
        return;
      }
      const started = performance.now();
      const html = await routes[route](JSON.parse(body), slot);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ms: performance.now() - started, html_bytes: Buffer.byteLength(html) }));
    } catch (error) {
      res.statusCode = 500;
      res.end(JSON.stringify({ error: String(error?.message ?? error) }));
    }
  });
});

server.listen(Number(process.env.PORT), '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await browser?.close().catch(() => undefined);
    process.exit(0);
  });
}
