import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { createHeadlessApp } from '../../src/headless/headless.app';

/** The token test renderers want; an API pointed at them is given it as headless_token. */
export const RENDERER_TOKEN = 'test-renderer-token-0123456789';

export interface StartedRenderer {
  app: NestFastifyApplication;
  url: string;
  port: number;
}

/**
 * A standalone renderer (not embedded) on loopback, so a test can stop it and start another. Its
 * egress policy lets through the local test site on 127.0.0.2, as the API's does in the tests.
 */
export async function startRenderer(
  overrides: Partial<Record<keyof AppConfig, unknown>> = {},
  port = 0,
): Promise<StartedRenderer> {
  const config = loadConfig({
    env: {},
    overrides: { log_level: 'silent', headless_token: RENDERER_TOKEN, render_allowed_hosts: ['127.0.0.2'], ...overrides },
  });
  const app = await createHeadlessApp(config);
  await app.listen(port, '127.0.0.1');
  const bound = (app.getHttpServer().address() as AddressInfo).port;
  return { app, url: `http://127.0.0.1:${bound}`, port: bound };
}
