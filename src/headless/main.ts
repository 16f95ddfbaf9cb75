import { Logger } from '@nestjs/common';
import { AppConfig, ConfigError, loadConfig, requireHeadlessToken } from '../config/app-config';
import { createHeadlessApp } from './headless.app';

/** Standalone renderer: `node dist/headless/main.js`, configured like the API (HEADLESS_PORT, ...). */
async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
    requireHeadlessToken(config, 'by a standalone renderer');
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const app = await createHeadlessApp(config);
  // SIGTERM/SIGINT run the shutdown hooks: drain in-flight renders, then close Chromium.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(config.headless_port, config.headless_host);
  new Logger('Headless').log(`renderer listening on ${await app.getUrl()}`);
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
