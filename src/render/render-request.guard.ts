import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import { createValidationPipe } from '../common/validation';
import { RenderDto } from './dto/render.dto';
import { UrlPolicy } from './url-policy';

/**
 * Validates the render body and applies the URL policy before RequestLimitGuard runs: guards
 * run ahead of pipes, and an invalid or refused render must not use up a session request.
 */
@Injectable()
export class RenderRequestGuard implements CanActivate {
  private readonly validation = createValidationPipe();

  constructor(private readonly urlPolicy: UrlPolicy) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ body: unknown }>();
    const dto = (await this.validation.transform(request.body ?? {}, { type: 'body', metatype: RenderDto })) as RenderDto;
    await this.urlPolicy.check(dto.url);
    request.body = dto;
    return true;
  }
}

/**
 * The body RenderRequestGuard already validated. A custom parameter decorator, so the global
 * ValidationPipe (which leaves custom decorators alone) does not validate it a second time.
 */
export const ValidatedRender = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): RenderDto => ctx.switchToHttp().getRequest<{ body: RenderDto }>().body,
);
