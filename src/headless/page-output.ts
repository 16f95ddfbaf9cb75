import type { BrowserContext, Page } from 'playwright-core';
import { Deadline } from './deadline';
import { RenderError } from './errors';

/**
 * What a render sends back, each part checked against its cap before it is assembled, so a
 * hostile page (a 300 MB DOM, a 100,000 px tall screenshot) costs a clear 502, never the
 * renderer's memory: RENDER_MAX_HTML_BYTES for the HTML, RENDER_MAX_RESPONSE_BYTES for the
 * whole answer (HTML, artifacts, browser state).
 */
export class OutputBudget {
  private used = 0;

  constructor(readonly maxResponseBytes: number) {}

  get remaining(): number {
    return this.maxResponseBytes - this.used;
  }

  /** Counts `bytes` of the answer; over the cap, the render fails naming it. */
  take(bytes: number, what: string): void {
    this.used += bytes;
    if (this.used > this.maxResponseBytes) {
      throw new RenderError(
        'output_too_large',
        `render output exceeds RENDER_MAX_RESPONSE_BYTES (${this.maxResponseBytes} bytes) at the ${what}`,
      );
    }
  }
}

/**
 * The page's HTML (doctype + document, as page.content() gives it), measured in the page first:
 * a page over `maxBytes` is refused there and its HTML never crosses into the renderer.
 */
export async function pageHtml(page: Page, deadline: Deadline, maxBytes: number, budget: OutputBudget): Promise<string> {
  const read = () =>
    page.evaluate((max) => {
      const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : '';
      const html = doctype + (document.documentElement?.outerHTML ?? '');
      const bytes = new Blob([html]).size;
      return bytes > max ? { bytes, html: null } : { bytes, html };
    }, maxBytes);
  let out: { bytes: number; html: string | null };
  try {
    out = await read();
  } catch (error) {
    // An action may have started a navigation that is still under way: read the new page.
    if (page.isClosed()) throw error;
    await page.waitForLoadState('domcontentloaded', { timeout: deadline.clamp(deadline.remaining()) });
    out = await read();
  }
  if (out.html === null) {
    throw new RenderError('output_too_large', `page HTML is ${out.bytes} bytes, over RENDER_MAX_HTML_BYTES (${maxBytes})`);
  }
  budget.take(out.bytes, 'html');
  return out.html;
}

/** A full-page PNG, cut at `maxHeight` px: a page can be made arbitrarily tall. */
export async function fullPageScreenshot(
  page: Page,
  deadline: Deadline,
  maxHeight: number,
  budget: OutputBudget,
): Promise<{ b64: string; clipped: boolean }> {
  const size = await page.evaluate(() => ({
    width: Math.max(document.documentElement.scrollWidth, window.innerWidth),
    height: Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight ?? 0, window.innerHeight),
  }));
  const clipped = size.height > maxHeight;
  const timeout = deadline.clamp(deadline.remaining());
  const png = clipped
    ? await page.screenshot({ type: 'png', fullPage: true, clip: { x: 0, y: 0, width: size.width, height: maxHeight }, timeout })
    : await page.screenshot({ type: 'png', fullPage: true, timeout });
  budget.take(Math.ceil(png.length / 3) * 4, 'screenshot');
  return { b64: png.toString('base64'), clipped };
}

/** The page as MHTML, through CDP (Playwright has no API for it). */
export async function captureMhtml(context: BrowserContext, page: Page, budget: OutputBudget): Promise<string> {
  const cdp = await context.newCDPSession(page);
  try {
    const { data } = await cdp.send('Page.captureSnapshot', { format: 'mhtml' });
    budget.take(Math.ceil(Buffer.byteLength(data) / 3) * 4, 'mhtml');
    return Buffer.from(data, 'utf8').toString('base64');
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}
