import { CanActivate, createParamDecorator, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { tenantOf } from '../auth/tenant.decorator';
import '../common/request-state';
import { Session } from './session';
import { awaitSessionFree, SESSION_LOCKS, SessionLocks } from './locks/session-locks';
import { RequestLimitReached } from './session.errors';
import { SessionStore } from './session.store';

export interface ReservedRequest {
  tenant: string;
  session: Session;
  /** The order number of the session's saved browser state; null: none. */
  stateSeq: number | null;
}

/** The request RequestLimitGuard reserved for this render; undefined for a render without a session. */
export const Reservation = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): ReservedRequest | undefined => ctx.switchToHttp().getRequest<FastifyRequest>().reservation,
);

/**
 * A session with a CDP connection is 409 (after its save, the render goes ahead: see
 * awaitSessionFree). Then atomically takes one request from the body's session (creating the session if needed)
 * before the handler runs, so N concurrent renders against a limit K admit exactly min(N, K).
 * Sets RateLimit-Limit / RateLimit-Remaining for limited sessions, on success and on 429.
 */
@Injectable()
export class RequestLimitGuard implements CanActivate {
  constructor(
    private readonly sessions: SessionStore,
    @Inject(SESSION_LOCKS) private readonly locks: SessionLocks,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    await this.reserve(http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
    return true;
  }

  /**
   * Sets `request.reservation` for a body with a session id, or throws (409, 429…). Also called
   * by the direct render route (render/render.route.ts).
   */
  async reserve(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const sessionId = (request.body as { session_id?: string } | undefined)?.session_id;
    if (!sessionId) return;
    const tenant = tenantOf(request);
    await awaitSessionFree(this.locks, tenant, sessionId);
    try {
      const { session, stateSeq } = await this.sessions.reserveRequest(tenant, sessionId);
      const max = session.config.maxRequests;
      if (max > 0) reply.header('RateLimit-Limit', max).header('RateLimit-Remaining', Math.max(0, max - session.requestCount));
      request.reservation = { tenant, session, stateSeq };
    } catch (err) {
      if (err instanceof RequestLimitReached) reply.header('RateLimit-Limit', err.max).header('RateLimit-Remaining', 0);
      throw err;
    }
  }
}
