import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { ApiKeyGuard } from './api-key.guard';
import { ApiKeyRing } from './api-keys';

/** API keys and tenants (DESIGN §5): the key ring from API_KEYS and the global guard. */
@Module({
  providers: [
    { provide: ApiKeyRing, useFactory: (config: AppConfig) => new ApiKeyRing(config.api_keys), inject: [AppConfig] },
    ApiKeyGuard,
    // The same instance as the global guard and for the routes served outside Nest's pipeline.
    { provide: APP_GUARD, useExisting: ApiKeyGuard },
  ],
  exports: [ApiKeyRing, ApiKeyGuard],
})
export class AuthModule {}
