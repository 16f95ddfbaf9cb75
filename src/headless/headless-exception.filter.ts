import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RenderErrorResponse } from '../renderer-rpc';
import { RenderError } from './errors';

const KIND_BY_STATUS: Record<number, string> = {
  400: 'invalid_request',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** Every renderer error leaves as `{ error, kind, request_id, duration_ms }`, never a stack trace. */
@Catch()
export class HeadlessExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HeadlessRender');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const { status, kind, message } = this.describe(exception);
    const body: RenderErrorResponse = {
      error: message,
      kind,
      request_id: String(request.id),
      duration_ms: Math.round(reply.elapsedTime),
    };
    // A draining renderer retires each connection it refuses on: the API's next request then
    // opens a new one (to another renderer), rather than racing the close of an idle socket.
    if (kind === 'shutting_down') reply.header('connection', 'close');
    void reply.status(status).send(body);
  }

  private describe(exception: unknown): { status: number; kind: string; message: string } {
    if (exception instanceof RenderError) {
      const { status, kind, message } = exception;
      if (kind === 'internal' || kind === 'browser_unavailable') this.logger.error(`${kind}: ${message}`);
      else this.logger.debug(`${kind}: ${message}`);
      return { status, kind, message };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const raw = typeof response === 'string' ? response : (response as { message?: unknown }).message;
      const message = Array.isArray(raw) ? raw.join('; ') : String(raw ?? exception.message);
      return { status, kind: KIND_BY_STATUS[status] ?? (status >= 500 ? 'internal' : 'http_error'), message };
    }
    // Fastify's own errors (malformed JSON, body too large) carry a statusCode.
    const statusCode = (exception as { statusCode?: unknown } | null)?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      return { status: statusCode, kind: KIND_BY_STATUS[statusCode] ?? 'http_error', message: (exception as Error).message };
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    return { status: 500, kind: 'internal', message: 'internal error' };
  }
}
