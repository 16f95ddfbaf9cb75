import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Logger as PinoLogger } from 'nestjs-pino';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { AppConfig } from '../config/app-config';

/**
 * Without HEADLESS_URLS the API serves complete renders by itself: the renderer app runs in
 * this process on HEADLESS_PORT and is reached over loopback HTTP like any other renderer,
 * so there is one code path. It is closed after the API stops taking requests.
 */
@Injectable()
export class EmbeddedRenderer implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(EmbeddedRenderer.name);
  private app: NestFastifyApplication | null = null;
  private address: string | null = null;
  /** HEADLESS_TOKEN, or one made for this process: nothing else may drive its browser. */
  readonly token: string;

  constructor(
    private readonly config: AppConfig,
    private readonly appLogger: PinoLogger,
  ) {
    this.token = config.headless_token || randomBytes(32).toString('base64url');
  }

  async onModuleInit(): Promise<void> {
    if (this.config.headless_urls.length > 0) return;
    // Loaded only here: the renderer app brings Playwright (~7 MB of code; an API in front of
    // remote renderers was 66 MB of heap at idle with it, issue 10) that such an API never runs.
    const { createHeadlessApp } = await import('../headless/headless.app');
    // Same log stream and format as the API: one process, one log.
    this.app = await createHeadlessApp({ ...this.config, headless_token: this.token }, { logger: this.appLogger });
    await this.app.listen(this.config.headless_port, this.config.headless_host);
    const { port } = this.app.getHttpServer().address() as AddressInfo;
    this.address = `http://${this.config.headless_host}:${port}`;
    this.logger.log(`embedded renderer listening on ${this.address}`);
  }

  url(): string {
    if (!this.address) throw new Error('the embedded renderer is not running (HEADLESS_URLS is set)');
    return this.address;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.app?.close();
  }
}
