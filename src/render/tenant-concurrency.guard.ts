import { CanActivate, ExecutionContext, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { tenantOf } from '../auth/tenant.decorator';
import { retryLater } from '../common/retry-after';
import { AppConfig } from '../config/app-config';

/**
 * RENDER_MAX_CONCURRENT_PER_TENANT: at most that many of one tenant's renders in flight on this
 * API instance (0 = off), so one heavy tenant cannot fill every renderer slot. Runs before
 * RequestLimitGuard: a refused render uses up no session request. The slot is given back when
 * the answer is finished or the client has gone.
 */
@Injectable()
export class TenantConcurrencyGuard implements CanActivate {
  private readonly inFlight = new Map<string, number>();
  private readonly max: number;

  constructor(config: AppConfig) {
    this.max = config.render_max_concurrent_per_tenant;
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    this.enter(http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
    return true;
  }

  /** Takes a slot for the request's tenant, or throws the 429. Also called by the direct render route (render.route.ts). */
  enter(request: FastifyRequest, reply: FastifyReply): void {
    if (this.max === 0) return;
    const tenant = tenantOf(request);
    const running = this.inFlight.get(tenant) ?? 0;
    if (running >= this.max) {
      // A render takes seconds; one second is a fair first wait.
      throw retryLater(
        new HttpException(`tenant render concurrency limit reached (${running}/${this.max})`, HttpStatus.TOO_MANY_REQUESTS),
        1,
      );
    }
    this.inFlight.set(tenant, running + 1);
    reply.raw.once('close', () => this.release(tenant));
  }

  private release(tenant: string): void {
    const running = (this.inFlight.get(tenant) ?? 1) - 1;
    if (running > 0) this.inFlight.set(tenant, running);
    else this.inFlight.delete(tenant);
  }
}
