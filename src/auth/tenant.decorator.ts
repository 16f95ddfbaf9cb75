import { createParamDecorator, ExecutionContext } from '@nestjs/common';

export const DEFAULT_TENANT = 'default';

/** The tenant the request acts for, as resolved by the API-key guard (default without keys). */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const request = ctx.switchToHttp().getRequest<{ tenant?: string }>();
  return request.tenant ?? DEFAULT_TENANT;
});
