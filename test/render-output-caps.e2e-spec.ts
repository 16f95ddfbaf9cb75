/**
 * Hostile pages are bounded (DESIGN §5): a page whose HTML is over RENDER_MAX_HTML_BYTES is a
 * 502 naming the cap and costs the service no memory to speak of; a full-page screenshot is
 * cut at RENDER_MAX_SCREENSHOT_HEIGHT_PX. Real Chromium, embedded renderer, site on 127.0.0.2.
 */
import { PNG_HEIGHT_OFFSET } from './support/png';
import { startSite, Site } from './fixtures/site';
import { bootApp, BootedApp } from './support/app';

jest.setTimeout(90_000);

describe('render output caps', () => {
  let site: Site;
  let api: BootedApp;
  const render = (payload: object) => api.inject({ method: 'POST', url: '/v1/render', payload });

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
    api = await bootApp({
      headless_port: 0,
      render_allowed_hosts: ['127.0.0.2'],
      render_timeout_ms: 60_000,
      render_max_screenshot_height_px: 4000,
    });
    await render({ url: site.url('/static') }); // Chromium is up before memory is measured
  });

  afterAll(async () => {
    await api?.close();
    await site?.close();
  });

  it('answers 502 naming RENDER_MAX_HTML_BYTES for 30 MB DOMs, 4 at once, without the memory to hold them', async () => {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => render({ url: site.url(`/huge?mb=30&n=${i}`), session_id: `huge-${i}` })));
    const growth = process.memoryUsage().rss - rssBefore;

    for (const res of answers) {
      expect(res.status).toBe(502);
      expect(res.body.message).toMatch(/over RENDER_MAX_HTML_BYTES \(8388608\)/);
    }
    expect(growth).toBeLessThan(200 * 1024 * 1024);
    expect((await api.inject('/health/live')).status).toBe(200);
    // The failure is recorded on the session like any failed render.
    const session = await api.inject('/v1/sessions/huge-0');
    expect(session.body.state.last_error).toMatch(/RENDER_MAX_HTML_BYTES/);
  });

  it('cuts a 20,000 px full-page screenshot at the cap and says so', async () => {
    const tall = await render({ url: site.url('/tall?px=20000'), artifacts: { screenshot: true } });
    expect(tall.status).toBe(200);
    expect(tall.body.screenshot_clipped).toBe(true);
    expect(Buffer.from(tall.body.screenshot_b64, 'base64').readUInt32BE(PNG_HEIGHT_OFFSET)).toBe(4000);

    const short = await render({ url: site.url('/tall?px=1000'), artifacts: { screenshot: true } });
    expect(short.body.screenshot_clipped).toBe(false);
    const height = Buffer.from(short.body.screenshot_b64, 'base64').readUInt32BE(PNG_HEIGHT_OFFSET);
    expect(height).toBeGreaterThanOrEqual(1000); // the page plus the body's margin
    expect(height).toBeLessThan(4000);
  });
});
