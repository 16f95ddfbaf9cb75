import { CanActivate, ExecutionContext, Injectable, ValidationPipe } from '@nestjs/common';
import { RenderDto } from './dto/render.dto';
import { UrlPolicy } from './url-policy';

/**
 * Validates the render body and applies the URL policy before RequestLimitGuard runs: guards
 * run ahead of pipes, and an invalid or refused render must not use up a session request.
 */
@Injectable()
export class RenderRequestGuard implements CanActivate {
  private readonly validation = new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    validationError: { target: false, value: false },
  });

  constructor(private readonly urlPolicy: UrlPolicy) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ body: unknown }>();
    const dto = (await this.validation.transform(request.body ?? {}, { type: 'body', metatype: RenderDto })) as RenderDto;
    await this.urlPolicy.check(dto.url);
    request.body = dto;
    return true;
  }
}
