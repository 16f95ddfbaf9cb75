import { ValidationPipe } from '@nestjs/common';

/** Strict input: unknown fields are an error (naming the field), not silently dropped. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true });
}
