import type { Logger as PinoLogger } from 'nestjs-pino';
import { loadConfig } from '../config/app-config';

/** Whether Playwright's module was evaluated since the registry was reset. */
let playwrightLoaded = false;

describe('EmbeddedRenderer', () => {
  beforeEach(() => {
    jest.resetModules();
    playwrightLoaded = false;
    jest.doMock('playwright-core', () => {
      playwrightLoaded = true;
      return {};
    });
  });

  afterEach(() => jest.dontMock('playwright-core'));

  it('does not load Playwright in an API in front of remote renderers (HEADLESS_URLS set)', async () => {
    // Required after the mock: the module graph of the service is what is being checked.
    const { EmbeddedRenderer } = jest.requireActual<typeof import('./embedded-renderer.service')>('./embedded-renderer.service');
    const config = loadConfig({ env: {}, overrides: { headless_urls: ['http://127.0.0.1:9123'], headless_token: 'x'.repeat(32) } });
    const renderer = new EmbeddedRenderer(config, {} as PinoLogger);
    await renderer.onModuleInit();

    expect(playwrightLoaded).toBe(false);
    expect(() => renderer.url()).toThrow('HEADLESS_URLS is set');
  });

  it('loads the renderer app, and with it Playwright, only to run the embedded renderer', async () => {
    const headlessApp = jest.requireActual<typeof import('../headless/headless.app')>('../headless/headless.app');

    expect(typeof headlessApp.createHeadlessApp).toBe('function');
    expect(playwrightLoaded).toBe(true);
  });
});
