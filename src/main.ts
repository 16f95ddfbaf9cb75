import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { configureApp, createAdapter } from './app.setup';
import { decideListen, ListenDecision } from './auth/listen-policy';
import { AppConfig, ConfigError, loadConfig, requireHeadlessToken } from './config/app-config';

/** The validated config, and where to listen (an API without keys only on loopback). */
function readConfig(): { config: AppConfig; listen: ListenDecision } {
  try {
    const config = loadConfig();
    if (config.headless_urls.length > 0) requireHeadlessToken(config, 'when HEADLESS_URLS is set');
    return { config, listen: decideListen(config) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

async function bootstrap(): Promise<void> {
  const { config, listen } = readConfig();
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), createAdapter(config), {
    bufferLogs: true,
  });
  configureApp(app);
  const logger = app.get(Logger);
  await app.listen(config.port, listen.host);
  if (listen.open) logger.warn(listen.line);
  else logger.log(listen.line);
  logger.log(`riptide-api listening on http://${listen.host}:${config.port} (session backend: ${config.session_backend})`);
}

void bootstrap();
