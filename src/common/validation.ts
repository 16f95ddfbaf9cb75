import { ValidationPipe } from '@nestjs/common';

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
