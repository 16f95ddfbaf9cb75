import { createParamDecorator, ExecutionContext, PipeTransform, Type, ValidationPipe } from '@nestjs/common';
import { compileFastCheck } from './fast-validation';

/**
 * Strict input, the same for the API and the renderer: unknown fields are an error naming
 * the field (not silently dropped), and the rejected values are not echoed back.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    validationError: { target: false, value: false },
  });
}

/**
 * Validates a body as `dto` with the strict pipe's verdict: a body the compiled check takes
 * (common/fast-validation.ts) is used as it is; any other goes through the pipe, whose errors
 * are the answer. For the hot routes' bodies, where the pipe's copy and walk are a render's
 * largest validation cost.
 */
export function createBodyValidator<T>(dto: Type<T>): (body: unknown) => Promise<T> {
  const pipe = createValidationPipe();
  const plainlyValid = compileFastCheck(dto);
  return async (body) => (plainlyValid(body) ? (body as T) : ((await pipe.transform(body, { type: 'body', metatype: dto })) as T));
}

class BodyValidationPipe<T> implements PipeTransform<unknown, Promise<T>> {
  readonly transform: (body: unknown) => Promise<T>;

  constructor(dto: Type<T>) {
    this.transform = createBodyValidator(dto);
  }
}

/** The raw body, as a custom parameter decorator: the global ValidationPipe leaves those alone. */
const RawBody = createParamDecorator((_: unknown, ctx: ExecutionContext): unknown => ctx.switchToHttp().getRequest<{ body: unknown }>().body);

/** `@Body()` validated by createBodyValidator instead of the global pipe. */
export const ValidBody = <T>(dto: Type<T>): ParameterDecorator => RawBody(new BodyValidationPipe(dto));
