import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * A request's logger (`request.log`, `reply.log`) that becomes a pino child, with the request
 * id bound, only when something logs through it. Fastify makes a child for every request, and
 * making one cost about 1 µs on the session read path (P1 in bench/), where nothing logs
 * through it: the request's own line is written by RequestLogController without it.
 */
class RequestLogger implements FastifyBaseLogger {
  declare fatal: LogFn;
  declare error: LogFn;
  declare warn: LogFn;
  declare info: LogFn;
  declare debug: LogFn;
  declare trace: LogFn;
  declare silent: LogFn;
  private made: FastifyBaseLogger | null = null;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get level(): string {
    return this.logger.level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }

  private get logger(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }
}

// The level methods, on the prototype: a request makes no closures.
for (const level of LEVELS) {
  Object.defineProperty(RequestLogger.prototype, level, {
    value(this: { logger: FastifyBaseLogger }, ...args: Parameters<LogFn>) {
      this.logger[level](...args);
    },
  });
}

/** Fastify's childLoggerFactory: the request's logger, made lazily. */
export const requestLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) =>
  new RequestLogger(logger, bindings, options);
