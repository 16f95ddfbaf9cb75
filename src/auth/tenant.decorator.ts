import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import '../common/request-state';

export const DEFAULT_TENANT = 'default';

export const tenantOf = (request: FastifyRequest): string => request.tenant ?? DEFAULT_TENANT;

/** The tenant the request acts for, as resolved by the API-key guard (default without keys). */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  return tenantOf(ctx.switchToHttp().getRequest<FastifyRequest>());
});
