import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { LoggerModule } from 'nestjs-pino';
import { AuthModule } from './auth/auth.module';
import { CdpModule } from './cdp/cdp.module';
import { loggerFor } from './common/logger';
import { CommonModule } from './common/common.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { RenderModule } from './render/render.module';
import { SessionModule } from './session/session.module';

@Module({})
export class AppModule {
  /** The whole API for a validated config; main.ts and the e2e tests build it the same way. */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        // Request logging is Fastify's own (see app.setup.ts): nestjs-pino's per-request
        // middleware and AsyncLocalStorage cost more than the rest of a session read.
        LoggerModule.forRoot({ pinoHttp: { logger: loggerFor(config) }, useExisting: true, forRoutes: [] }),
        ScheduleModule.forRoot(),
        CommonModule,
        AuthModule,
        SessionModule,
        RenderModule,
        CdpModule,
        HealthModule,
        MetricsModule,
      ],
    };
  }
}
