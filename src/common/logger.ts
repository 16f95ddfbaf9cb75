import { FastifyReply, FastifyRequest, LogController } from 'fastify';
import pino, { Logger } from 'pino';
import { redactToken } from '../auth/query-token.decorator';
import type { AppConfig } from '../config/app-config';

const loggers = new WeakMap<AppConfig, Logger>();
const LOG_BATCH_BYTES = 4096;
const LOG_FLUSH_MS = 1000;

/**
 * The one pino logger of an API instance (one per config object, so the Fastify adapter and
 * the Nest module built from the same config share it). Fastify gives each request a child
 * carrying `request_id`; Nest's own logging (nestjs-pino) writes through the same instance.
 *
 * Written in batches: pino's default destination makes one write(2) per line, one per
 * request at LOG_LEVEL=info. This one writes when 4 KiB (about 15 request lines) have
 * gathered, or after at most a second, in the background. Still one JSON line per request,
 * at most a second late. What is buffered is written by pino on process exit (see
 * configureApp's shutdown hooks).
 */
export function loggerFor(config: AppConfig): Logger {
  let logger = loggers.get(config);
  if (!logger) {
    logger = pino(
      { level: config.log_level, redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] },
      pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS }),
    );
    loggers.set(config, logger);
  }
  return logger;
}

/** Fastify's request log lines: one compact line per request when it completes. */
export class RequestLogController extends LogController {
  /** `logger`: the instance's root logger (loggerFor), whose level the request children share. */
  constructor(private readonly logger: Logger) {
    super({ requestIdLogLabel: 'request_id' });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (request.url.startsWith('/health')) return;
    if (error) reply.log.error({ ...requestLine(request, reply), err: error }, 'request errored');
    // Checked first: below info (LOG_LEVEL=warn), a request does not build a line to drop.
    else if (this.logger.isLevelEnabled('info')) reply.log.info(requestLine(request, reply), 'request completed');
  }
}

/** A WebSocket client may carry its API key in the query (?token=): never logged. */
const requestLine = (request: FastifyRequest, reply: FastifyReply) => ({
  method: request.method,
  url: redactToken(request.url),
  status: reply.statusCode,
  ms: Math.round(reply.elapsedTime),
});
