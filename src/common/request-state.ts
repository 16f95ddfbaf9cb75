import type { ReservedRequest } from '../session/request-limit.guard';

/**
 * What guards leave on a request for the handlers after them, declared once. Read through
 * the @Tenant() and @Reservation() parameter decorators, not by reaching into the request.
 */
declare module 'fastify' {
  interface FastifyRequest {
    /** Set by ApiKeyGuard when API keys are configured; absent means the default tenant. */
    tenant?: string;
    /** Set by RequestLimitGuard on a session render: the request it took from the session. */
    reservation?: ReservedRequest;
  }
}
