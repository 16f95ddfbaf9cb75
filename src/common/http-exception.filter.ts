import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { retryAfterOf } from './retry-after';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  request_id: string;
}

/** Status of errors raised by Fastify itself (body parser, body limit), which carry a statusCode. */
function frameworkStatus(exception: unknown): number | undefined {
  const status = (exception as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

function messageOf(exception: unknown, status: number): string {
  if (exception instanceof HttpException) {
    const response = exception.getResponse();
    if (typeof response === 'string') return response;
    const message = (response as { message?: unknown }).message;
    if (Array.isArray(message)) return message.join('; ');
    if (typeof message === 'string') return message;
    return exception.message;
  }
  if (status === HttpStatus.PAYLOAD_TOO_LARGE) return 'request body is too large';
  if (frameworkStatus(exception) !== undefined) return (exception as Error).message;
  return 'internal error';
}

export function errorBody(status: number, message: string, requestId: string): ErrorBody {
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, request_id: requestId };
}

/** The single error shape of the API: {statusCode, error, message, request_id}; never a stack. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    this.send(exception, ctx.getRequest<FastifyRequest>(), ctx.getResponse<FastifyReply>());
  }

  /** Answers with the error; also used by the routes served outside Nest's pipeline. */
  send(exception: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const status =
      exception instanceof HttpException
        ? exception.getStatus()
        : (frameworkStatus(exception) ?? HttpStatus.INTERNAL_SERVER_ERROR);
    if (status >= 500 && !(exception instanceof HttpException)) {
      this.logger.error({ err: exception, request_id: request.id }, 'unhandled error');
    }
    const retryAfter = retryAfterOf(exception);
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    void reply.status(status).send(errorBody(status, messageOf(exception, status), request.id));
  }
}
