import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { createBodyValidator } from '../common/validation';
import { RenderDto } from './dto/render.dto';
import { UrlPolicy } from './url-policy';

/**
 * Validates the render body and applies the URL policy before RequestLimitGuard runs: guards
 * run ahead of pipes, and an invalid or refused render must not use up a session request.
 */
@Injectable()
export class RenderRequestGuard implements CanActivate {
  private readonly validate = createBodyValidator(RenderDto);

  constructor(private readonly urlPolicy: UrlPolicy) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.admit(context.switchToHttp().getRequest<FastifyRequest>());
    return true;
  }

  /**
   * Replaces the body with the validated RenderDto, or throws the 400/422. Also called by the
   * direct render route (render.route.ts).
   */
  async admit(request: FastifyRequest): Promise<void> {
    const dto = await this.validate(request.body ?? {});
    await this.urlPolicy.check(dto.url);
    request.body = dto;
  }
}

/**
 * The body RenderRequestGuard already validated. A custom parameter decorator, so the global
 * ValidationPipe (which leaves custom decorators alone) does not validate it a second time.
 */
export const ValidatedRender = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): RenderDto => ctx.switchToHttp().getRequest<{ body: RenderDto }>().body,
);
