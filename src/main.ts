import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { configureApp, createAdapter } from './app.setup';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';

function readConfig(): AppConfig {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

async function bootstrap(): Promise<void> {
  const config = readConfig();
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), createAdapter(config), {
    bufferLogs: true,
  });
  configureApp(app);
  const logger = app.get(Logger);
  await app.listen(config.port, config.host);
  if (config.api_keys.length === 0) {
    logger.warn(`no API keys configured: listening on ${config.host} only, every caller is tenant "default"`);
  }
  logger.log(`riptide-api listening on http://${config.host}:${config.port} (session backend: ${config.session_backend})`);
}

void bootstrap();
