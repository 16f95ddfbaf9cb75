import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { tenantOf } from '../auth/tenant.decorator';
import '../common/request-state';
import { Session, StateSnapshot } from './session';
import { RequestLimitReached } from './session.errors';
import { SessionStore } from './session.store';

export interface ReservedRequest {
  tenant: string;
  session: Session;
  storageState: StateSnapshot | null;
}

/** The request RequestLimitGuard reserved for this render; undefined for a render without a session. */
export const Reservation = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): ReservedRequest | undefined => ctx.switchToHttp().getRequest<FastifyRequest>().reservation,
);

/**
 * Atomically takes one request from the body's session (creating the session if needed)
 * before the handler runs, so N concurrent renders against a limit K admit exactly min(N, K).
 * Sets RateLimit-Limit / RateLimit-Remaining for limited sessions, on success and on 429.
 */
@Injectable()
export class RequestLimitGuard implements CanActivate {
  constructor(private readonly sessions: SessionStore) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const sessionId = (request.body as { session_id?: string } | undefined)?.session_id;
    if (!sessionId) return true;
    const tenant = tenantOf(request);
    try {
      const { session, storageState } = await this.sessions.reserveRequest(tenant, sessionId);
      const max = session.config.maxRequests;
      if (max > 0) reply.header('RateLimit-Limit', max).header('RateLimit-Remaining', Math.max(0, max - session.requestCount));
      request.reservation = { tenant, session, storageState };
      return true;
    } catch (err) {
      if (err instanceof RequestLimitReached) reply.header('RateLimit-Limit', err.max).header('RateLimit-Remaining', 0);
      throw err;
    }
  }
}
