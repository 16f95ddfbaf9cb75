import { FastifyReply, FastifyRequest, LogController } from 'fastify';
import pino, { Logger } from 'pino';
import { redactToken } from '../auth/query-token.decorator';
import type { AppConfig } from '../config/app-config';
import { LogBatch } from './log-batch';

/** One per API instance: its logger, and the batch its lines go to. */
interface InstanceLog {
  logger: Logger;
  lines: LogBatch;
}

const logs = new WeakMap<AppConfig, InstanceLog>();
/** About 100 request lines per write(2). */
const LOG_BATCH_CHARS = 16 * 1024;
const LOG_FLUSH_MS = 1000;

/**
 * The one pino logger of an API instance (one per config object, so the Fastify adapter and
 * the Nest module built from the same config share it). Fastify gives each request a child
 * carrying `request_id` (made only when used, common/request-logger.ts); Nest's own logging
 * (nestjs-pino) writes through the same instance.
 *
 * Written in batches: pino's default destination makes one write(2) per line, one per
 * request at LOG_LEVEL=info. This one writes when 16 Ki characters (about 100 request lines)
 * have gathered, or after at most a second (common/log-batch.ts). Still one JSON line per
 * request, at most a second late; what is gathered is written on process exit (see
 * configureApp's shutdown hooks). The batch's write is synchronous, pino's default: it blocks
 * only when the reader of stdout stops reading, where an asynchronous one would buffer
 * without bound.
 */
function instanceLog(config: AppConfig): InstanceLog {
  let log = logs.get(config);
  if (!log) {
    const lines = new LogBatch(pino.destination({ dest: 1, sync: true }), { maxChars: LOG_BATCH_CHARS, maxDelayMs: LOG_FLUSH_MS });
    const logger = pino({ level: config.log_level, redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] }, lines);
    log = { logger, lines };
    logs.set(config, log);
  }
  return log;
}

export const loggerFor = (config: AppConfig): Logger => instanceLog(config).logger;

/** The request log of the instance built from `config` (Fastify's logController). */
export function requestLogFor(config: AppConfig): RequestLogController {
  const { logger, lines } = instanceLog(config);
  return new RequestLogController(logger, lines);
}

/**
 * Fastify's request log lines: one compact line per request when it completes.
 *
 * A completed request's line is written here as pino would write it from the request's child
 * logger (request.log), field for field (logger.spec.ts compares the two), in about a third
 * of the time: it is the one line of every request at LOG_LEVEL=info (P1 in bench/).
 */
export class RequestLogController extends LogController {
  private readonly info: number;
  /** `,"pid":…,"hostname":…`: the logger's own fields, as pino writes them after `time` (its exported symbol). */
  private readonly base: string;

  constructor(
    private readonly logger: Logger,
    private readonly lines: LogBatch,
  ) {
    super({ requestIdLogLabel: 'request_id' });
    this.info = logger.levels.values.info;
    this.base = (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym];
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (request.url.startsWith('/health')) return;
    if (error) reply.log.error({ ...requestLine(request, reply), err: error }, 'request errored');
    // Checked first: below info (LOG_LEVEL=warn), a request does not build a line to drop.
    else if (this.logger.isLevelEnabled('info')) this.lines.write(this.completedLine(request, reply));
  }

  private completedLine(request: FastifyRequest, reply: FastifyReply): string {
    const { method, url, status, ms } = requestLine(request, reply);
    // The method is a token Node's HTTP parser accepted (letters only): it needs no escaping.
    return (
      `{"level":${this.info},"time":${Date.now()}${this.base},"request_id":${JSON.stringify(request.id)},` +
      `"method":"${method}","url":${JSON.stringify(url)},"status":${status},"ms":${ms},"msg":"request completed"}\n`
    );
  }
}

/** A WebSocket client may carry its API key in the query (?token=): never logged. */
const requestLine = (request: FastifyRequest, reply: FastifyReply) => ({
  method: request.method,
  url: redactToken(request.url),
  status: reply.statusCode,
  ms: Math.round(reply.elapsedTime),
});
