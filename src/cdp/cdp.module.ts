import { Module } from '@nestjs/common';
import { CdpGateway } from './cdp-gateway.service';
import { CdpRendererClient } from './cdp-renderer.client';
import { CdpController } from './cdp.controller';

/** CDP sessions (DESIGN §3): clients' own Playwright or Puppeteer on their session's browser. */
@Module({
  controllers: [CdpController],
  providers: [CdpGateway, CdpRendererClient],
})
export class CdpModule {}
