import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import { RouteSchema } from '@nestjs/platform-fastify';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Tenant } from '../auth/tenant.decorator';
import { CreateSessionDto, UpsertSessionDto } from './dto/create-session.dto';
import { ListSessionsQuery } from './dto/list-sessions.query';
import { PatchSessionDto } from './dto/patch-session.dto';
import { ProxyPolicyPipe } from '../render/proxy-policy.pipe';
import { ProxyDto } from './dto/proxy.dto';
import { SessionConfigDto } from './dto/session-config.dto';
import { SessionIdPipe } from './session-id.pipe';
import {
  SESSION_RESPONSE_SCHEMA,
  SessionResponse,
  toCookiesResponse,
  toMetricsResponse,
  toSessionResponse,
} from './dto/session.response';
import { SessionConfig, SessionPatch, SESSION_ID_PATTERN, UpstreamProxy } from './session';
import { sessionNotFound } from './session.errors';
import { SessionCleanupService } from './session-cleanup.service';
import { SessionStore } from './session.store';

const proxyOf = ({ server, username, password }: ProxyDto): UpstreamProxy => ({
  server,
  ...(username !== undefined && { username }),
  ...(password !== undefined && { password }),
});

const configOf = (dto: SessionConfigDto): Partial<SessionConfig> => ({
  ttlSeconds: dto.ttl_seconds ?? undefined,
  autoRenew: dto.auto_renew ?? undefined,
  maxRequests: dto.max_requests ?? undefined,
  trackMetrics: dto.track_metrics ?? undefined,
  proxy: dto.proxy ? proxyOf(dto.proxy) : undefined,
});

/** A merge patch: null removes the proxy (it is replaced as a whole, not merged field by field). */
const patchOf = (dto: PatchSessionDto): SessionPatch => ({
  ...configOf(dto),
  ...(dto.proxy === null && { proxy: null }),
  metadata: dto.metadata,
});

const encodeCursor = (after: string | null): string | null => (after === null ? null : Buffer.from(after).toString('base64url'));

function decodeCursor(cursor: string | undefined): string | null {
  if (cursor === undefined || cursor === '') return null;
  const after = Buffer.from(cursor, 'base64url').toString();
  if (!SESSION_ID_PATTERN.test(after)) throw new BadRequestException('cursor is not a next_cursor from this API');
  return after;
}

@ApiTags('sessions')
@Controller({ path: 'sessions', version: '1' })
export class SessionsController {
  constructor(
    private readonly sessions: SessionStore,
    private readonly cleanupJob: SessionCleanupService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a session (409 if the id is live)' })
  async create(@Tenant() tenant: string, @Body(ProxyPolicyPipe) dto: CreateSessionDto): Promise<SessionResponse> {
    const session = await this.sessions.create(tenant, { id: dto.session_id, config: configOf(dto), metadata: dto.metadata });
    return toSessionResponse(session);
  }

  @Get()
  @ApiOperation({ summary: "List the caller's live sessions, in session_id order" })
  async list(@Tenant() tenant: string, @Query() query: ListSessionsQuery) {
    const page = await this.sessions.list(tenant, query.limit ?? 100, decodeCursor(query.cursor));
    return { items: page.items.map(toSessionResponse), next_cursor: encodeCursor(page.after) };
  }

  @Get('metrics')
  @ApiOperation({ summary: "Aggregate metrics of the caller's sessions (its tenant's only)" })
  async metrics(@Tenant() tenant: string) {
    return toMetricsResponse(await this.sessions.metrics(tenant));
  }

  @Post('cleanup')
  @HttpCode(200)
  @ApiOperation({ summary: "Run the expiry sweep now (all tenants); `removed` counts the caller's sessions" })
  async cleanup(@Tenant() tenant: string): Promise<{ removed: number }> {
    return { removed: await this.cleanupJob.sweepFor(tenant) };
  }

  @Put(':id')
  @ApiOperation({ summary: 'Get or create the session with this id (201 created, 200 existing)' })
  async upsert(
    @Tenant() tenant: string,
    @Param('id', SessionIdPipe) id: string,
    @Body(ProxyPolicyPipe) dto: UpsertSessionDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SessionResponse> {
    const { session, created } = await this.sessions.getOrCreate(tenant, id, { config: configOf(dto), metadata: dto.metadata });
    reply.status(created ? 201 : 200);
    return toSessionResponse(session);
  }

  @Get(':id')
  // The hot read path: serialized from the schema instead of by JSON.stringify, and run
  // without Nest's per-request pipeline (session-read.route.ts, which calls this method).
  @RouteSchema({ response: { 200: SESSION_RESPONSE_SCHEMA } })
  @ApiOperation({ summary: 'One session (does not touch it)' })
  async get(@Tenant() tenant: string, @Param('id', SessionIdPipe) id: string): Promise<SessionResponse> {
    const session = await this.sessions.get(tenant, id);
    if (!session) throw sessionNotFound(id);
    return toSessionResponse(session);
  }

  @Get(':id/cookies')
  @ApiOperation({ summary: "The session's saved browser cookies" })
  async cookies(@Tenant() tenant: string, @Param('id', SessionIdPipe) id: string) {
    return { cookies: toCookiesResponse((await this.sessions.storageState(tenant, id))?.json ?? null) };
  }

  @Patch(':id')
  @ApiOperation({ summary: 'JSON merge patch of metadata and config' })
  async patch(
    @Tenant() tenant: string,
    @Param('id', SessionIdPipe) id: string,
    @Body(ProxyPolicyPipe) dto: PatchSessionDto,
  ): Promise<SessionResponse> {
    return toSessionResponse(await this.sessions.update(tenant, id, patchOf(dto)));
  }

  @Post(':id/touch')
  @HttpCode(200)
  @ApiOperation({ summary: 'Renew the session per its config' })
  async touch(@Tenant() tenant: string, @Param('id', SessionIdPipe) id: string): Promise<SessionResponse> {
    return toSessionResponse(await this.sessions.touch(tenant, id));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove the session and close its browser context' })
  async remove(@Tenant() tenant: string, @Param('id', SessionIdPipe) id: string): Promise<void> {
    if (!(await this.sessions.remove(tenant, id))) throw sessionNotFound(id);
  }
}
