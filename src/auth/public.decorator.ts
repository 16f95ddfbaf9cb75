import { SetMetadata } from '@nestjs/common';

/** Metadata key read by the API-key guard. */
export const IS_PUBLIC_KEY = 'riptide:public';

/**
 * Marks a controller or a route as reachable without an API key (health probes, and
 * `/metrics` unless METRICS_REQUIRE_KEY). Requests to a public route act for no tenant
 * in particular: the `@Tenant()` decorator gives `default` there.
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);
