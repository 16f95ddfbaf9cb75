import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { LoggerModule } from 'nestjs-pino';
import { CommonModule } from './common/common.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
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
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.log_level,
            // Fastify's genReqId already set req.id (see common/request-id.ts).
            genReqId: (req) => (req as { id?: string }).id ?? '',
            customProps: (req) => ({ request_id: (req as { id?: string }).id }),
            autoLogging: { ignore: (req) => req.url?.startsWith('/health') ?? false },
            redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
          },
        }),
        ScheduleModule.forRoot(),
        CommonModule,
        SessionModule,
        RenderModule,
      ],
    };
  }
}
