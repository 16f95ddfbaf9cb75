import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { BrowserService } from './browser.service';
import { CdpController } from './cdp.controller';
import { CdpService } from './cdp.service';
import { RenderController } from './render.controller';
import { RenderService } from './render.service';

/** The renderer: its own Nest application (see createHeadlessApp), not imported by the API module. */
@Module({})
export class HeadlessModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: HeadlessModule,
      imports: [ConfigModule.forRoot(config)],
      controllers: [RenderController, CdpController],
      providers: [BrowserService, RenderService, CdpService],
    };
  }
}
