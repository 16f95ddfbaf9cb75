import { Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { Tenant } from '../auth/tenant.decorator';
import { ApiBody, ApiExtraModels, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RENDER_ACTION_CLASSES } from '../renderer-rpc';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RequestLimitGuard, Reservation, ReservedRequest } from '../session/request-limit.guard';
import { toSessionResponse } from '../session/dto/session.response';
import { RenderDto } from './dto/render.dto';
import { withFields } from './render-reply';
import { RenderRequestGuard, ValidatedRender } from './render-request.guard';
import { RpcClient } from './rpc-client.service';
import { TenantConcurrencyGuard } from './tenant-concurrency.guard';

@ApiTags('render')
@ApiExtraModels(...RENDER_ACTION_CLASSES)
@Controller({ path: 'render', version: '1' })
export class RenderController {
  constructor(private readonly rpc: RpcClient) {}

  @Post()
  // The hot render path: run without Nest's per-request pipeline (render.route.ts, which runs
  // these guards and calls this method).
  @HttpCode(200)
  @UseGuards(RenderRequestGuard, TenantConcurrencyGuard, RequestLimitGuard)
  @ApiOperation({ summary: 'Render a page, optionally in a session (its browser state is kept)' })
  @ApiBody({ type: RenderDto })
  async render(
    @ValidatedRender() dto: RenderDto,
    @Tenant() tenant: string,
    @Reservation() reservation: ReservedRequest | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    const { url, session_id: _sessionId, ...config } = dto;
    reply.type('application/json');
    if (!reservation) return (await this.rpc.renderDynamic(url, config, tenant, request.id)).page;
    const { parts, session, stateSaved } = await this.rpc.renderReserved(reservation, url, config, request.id);
    return session ? withFields(parts.page, { session: toSessionResponse(session), state_saved: stateSaved }) : parts.page;
  }
}
