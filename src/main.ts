import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { configureApp, createAdapter } from './app.setup';
import { checkListenSecurity } from './auth/listen-policy';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';

/** The validated config, and the start-up security line (refuses an exposed API without keys). */
function readConfig(): { config: AppConfig; securityLine: string } {
  try {
    const config = loadConfig();
    return { config, securityLine: checkListenSecurity(config) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

async function bootstrap(): Promise<void> {
  const { config, securityLine } = readConfig();
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), createAdapter(config), {
    bufferLogs: true,
  });
  configureApp(app);
  const logger = app.get(Logger);
  await app.listen(config.port, config.host);
  if (config.api_keys.length === 0) logger.warn(securityLine);
  else logger.log(securityLine);
  logger.log(`riptide-api listening on http://${config.host}:${config.port} (session backend: ${config.session_backend})`);
}

void bootstrap();
