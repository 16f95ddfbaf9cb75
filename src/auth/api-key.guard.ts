import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config';
import { ApiKeyRing } from './api-keys';
import { IS_PUBLIC_KEY } from './public.decorator';
import { QUERY_TOKEN_KEY } from './query-token.decorator';
import '../common/request-state';


const REALM = 'Bearer realm="riptide-api"';
const BEARER = /^bearer(?:[ \t]|$)/i;

/** The path a request was routed to: the route's pattern, not the raw URL (no query, no tricks). */
export function routePath(request: FastifyRequest): string {
  const pattern = request.routeOptions?.url;
  if (pattern) return pattern;
  const q = request.url.indexOf('?');
  return q === -1 ? request.url : request.url.slice(0, q);
}

/**
 * The presented key: `Authorization: Bearer <key>` (scheme case-insensitive), else
 * `X-API-Key: <key>`; undefined when neither is there. A Bearer header with an empty or
 * malformed token is a presented (bad) key, not a missing one.
 */
export function presentedKey(headers: FastifyRequest['headers']): string | undefined {
  const authorization = headers.authorization;
  // Another scheme (Basic …) is not ours: fall through to X-API-Key.
  if (typeof authorization === 'string' && BEARER.test(authorization)) return authorization.slice(6).trim();
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string') {
    const key = apiKey.trim();
    if (key.length > 0) return key;
  }
  return undefined;
}

/**
 * The global API-key guard (APP_GUARD): resolves the caller's tenant from its key and sets
 * `request.tenant`, which `@Tenant()` and RequestLimitGuard read (global guards run before
 * route guards). Missing or unknown key: 401 in the API error shape with WWW-Authenticate.
 *
 * Open without a key:
 * - everything, when no keys are configured (tenant "default"; main.ts then binds loopback);
 * - `/metrics` unless METRICS_REQUIRE_KEY. Decided here by path and config, *before* and
 *   regardless of `@Public()`, so that marking the metrics controller public cannot open it
 *   when the config says it is protected;
 * - `/health` and `/health/*`, always (probes carry no key): an explicit allow-list, so the
 *   probes stay open even if their controllers are not marked `@Public()`;
 * - any route marked `@Public()`.
 * `/docs` and `/docs-json` are plain Fastify routes (not Nest ones): this guard never sees
 * them, and they are deliberately open — the OpenAPI document holds no data, only the API's
 * shape, and Swagger UI needs it to offer its "Authorize" button.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly metricsOpen: boolean;

  constructor(
    private readonly keys: ApiKeyRing,
    private readonly reflector: Reflector,
    config: AppConfig,
  ) {
    this.metricsOpen = !config.metrics_require_key;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.keys.enabled) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    if (this.isOpen(context, routePath(request))) return true;
    this.authenticate(request, http.getResponse<FastifyReply>(), this.queryToken(context, request));
    return true;
  }

  /**
   * Sets `request.tenant` from the presented key (header, else `queryToken` where the route
   * accepts one), or throws the 401. Also called by the routes served outside Nest's pipeline
   * (common/direct-route.ts), so every route checks its key the one way.
   */
  authenticate(request: FastifyRequest, reply: FastifyReply, queryToken?: string): void {
    if (!this.keys.enabled) return;
    const key = presentedKey(request.headers) ?? queryToken;
    const tenant = key === undefined ? null : this.keys.tenantFor(key);
    if (tenant === null) {
      if (key === undefined) {
        reply.header('WWW-Authenticate', REALM);
        throw new UnauthorizedException('missing API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"');
      }
      reply.header('WWW-Authenticate', `${REALM}, error="invalid_token"`);
      throw new UnauthorizedException('invalid API key');
    }
    request.tenant = tenant;
  }

  /** `?token=` on the routes that accept it (@QueryTokenAccepted), else undefined. */
  private queryToken(context: ExecutionContext, request: FastifyRequest): string | undefined {
    if (this.reflector.get<boolean>(QUERY_TOKEN_KEY, context.getHandler()) !== true) return undefined;
    const token = (request.query as Record<string, unknown> | undefined)?.token;
    return typeof token === 'string' && token.length > 0 ? token : undefined;
  }

  private isOpen(context: ExecutionContext, path: string): boolean {
    if (path === '/metrics') return this.metricsOpen;
    if (path === '/health' || path.startsWith('/health/')) return true;
    return this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [context.getHandler(), context.getClass()]) === true;
  }
}
