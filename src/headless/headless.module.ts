import { DynamicModule, Logger, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { RendererEgress } from '../egress/renderer-egress';
import { BrowserService } from './browser.service';
import { RenderController } from './render.controller';
import { RenderService } from './render.service';

/** The renderer: its own Nest application (see createHeadlessApp), not imported by the API module. */
@Module({})
export class HeadlessModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: HeadlessModule,
      imports: [ConfigModule.forRoot(config)],
      controllers: [RenderController],
      providers: [
        {
          provide: RendererEgress,
          useFactory: (c: AppConfig) =>
            new RendererEgress(
              { allowedHosts: c.render_allowed_hosts, dnsServers: c.render_dns_servers, upstreamProxy: c.render_upstream_proxy },
              new Logger('HeadlessEgress'),
            ),
          inject: [AppConfig],
        },
        BrowserService,
        RenderService,
      ],
    };
  }
}
