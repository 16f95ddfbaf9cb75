import type { FastifyReply, FastifyRequest } from 'fastify';
import pino from 'pino';
import type { AppConfig } from '../config/app-config';
import { loggerFor, requestLogFor } from './logger';
import { requestLogger } from './request-logger';

/** An API instance's logger and request log, its lines captured (time aside) instead of written. */
function instance(level = 'info') {
  const config = { log_level: level } as AppConfig;
  const logger = loggerFor(config);
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { write(line: string): boolean };
  const lines: string[] = [];
  jest.spyOn(stream, 'write').mockImplementation((line: string) => lines.push(line.replace(/"time":\d+/, '"time":0')) > 0);
  return { logger, log: requestLogFor(config), lines };
}

/** What Fastify hands the log controller for a finished request; its logger made as Fastify makes it. */
function finished(logger: pino.Logger, url: string, statusCode: number): [FastifyRequest, FastifyReply] {
  const log = requestLogger.call(null as never, logger, { request_id: 'req-1' }, {}, null as never);
  return [{ id: 'req-1', method: 'GET', url, log } as unknown as FastifyRequest, { statusCode, elapsedTime: 1.4, log } as unknown as FastifyReply];
}

describe('RequestLogController', () => {
  it("writes a completed request's line byte for byte as pino would from the request's logger", () => {
    const { logger, log, lines } = instance();
    for (const url of ['/v1/sessions/a', '/v1/sessions/a/cdp?token=key&x="quoted"\\', '/v1/ünïcode']) {
      log.requestCompleted(null, ...finished(logger, url, 200));
      logger.child({ request_id: 'req-1' }).info({ method: 'GET', url: url.replace('token=key', 'token=[redacted]'), status: 200, ms: 1 }, 'request completed');
      const [ours, pinos] = lines.splice(0);
      expect(ours).toBe(pinos);
      expect(JSON.parse(ours)).toMatchObject({ level: 30, pid: process.pid, request_id: 'req-1', status: 200, msg: 'request completed' });
    }
  });

  it('writes no line below info, and none for health probes', () => {
    const quiet = instance('warn');
    quiet.log.requestCompleted(null, ...finished(quiet.logger, '/v1/sessions/a', 200));
    const probed = instance();
    probed.log.requestCompleted(null, ...finished(probed.logger, '/health/live', 200));
    expect([...quiet.lines, ...probed.lines]).toEqual([]);
  });

  it("logs a failed request at error with its request id, through the request's logger", () => {
    const { logger, log, lines } = instance();
    log.requestCompleted(new Error('boom'), ...finished(logger, '/v1/sessions/a', 500));
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: 50, request_id: 'req-1', url: '/v1/sessions/a', status: 500, msg: 'request errored', err: expect.objectContaining({ message: 'boom' }) }),
    ]);
  });
});

describe('requestLogger', () => {
  it('makes the pino child only when something logs through it', () => {
    const root = pino({ level: 'info' }, { write: () => true });
    const child = jest.spyOn(root, 'child');
    const log = requestLogger.call(null as never, root, { request_id: 'r' }, {}, null as never);
    expect(log.level).toBe('info');
    expect(child).toHaveBeenCalledTimes(1); // reading the level makes it too
    const lazy = requestLogger.call(null as never, root, { request_id: 'r2' }, {}, null as never);
    expect(child).toHaveBeenCalledTimes(1);
    lazy.warn('once');
    lazy.warn('twice');
    expect(child).toHaveBeenCalledTimes(2);
    expect(child).toHaveBeenLastCalledWith({ request_id: 'r2' }, {});
  });
});
