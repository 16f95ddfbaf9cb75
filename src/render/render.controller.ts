import { Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { Tenant } from '../auth/tenant.decorator';
import { ApiBody, ApiExtraModels, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RENDER_ACTION_CLASSES } from '../renderer-rpc';
import type { FastifyRequest } from 'fastify';
import { RequestLimitGuard, Reservation, ReservedRequest } from '../session/request-limit.guard';
import { toSessionResponse } from '../session/dto/session.response';
import { RenderDto } from './dto/render.dto';
import { RenderRequestGuard, ValidatedRender } from './render-request.guard';
import { RpcClient } from './rpc-client.service';
import { TenantConcurrencyGuard } from './tenant-concurrency.guard';

@ApiTags('render')
@ApiExtraModels(...RENDER_ACTION_CLASSES)
@Controller({ path: 'render', version: '1' })
export class RenderController {
  constructor(private readonly rpc: RpcClient) {}

  @Post()
  @HttpCode(200)
  @UseGuards(RenderRequestGuard, TenantConcurrencyGuard, RequestLimitGuard)
  @ApiOperation({ summary: 'Render a page, optionally in a session (its browser state is kept)' })
  @ApiBody({ type: RenderDto })
  async render(
    @ValidatedRender() dto: RenderDto,
    @Tenant() tenant: string,
    @Reservation() reservation: ReservedRequest | undefined,
    @Req() request: FastifyRequest,
  ) {
    const { url, session_id: _sessionId, ...config } = dto;
    const { result, session, stateSaved } = reservation
      ? await this.rpc.renderReserved(reservation, url, config, request.id)
      : { result: await this.rpc.renderDynamic(url, config, tenant, request.id), session: null, stateSaved: null };
    return {
      final_url: result.final_url,
      html: result.html,
      screenshot_b64: result.screenshot_b64 ?? null,
      screenshot_clipped: result.screenshot_clipped ?? false,
      mhtml_b64: result.mhtml_b64 ?? null,
      render_time_ms: result.render_time_ms,
      actions_executed: result.actions_executed ?? [],
      action_error: result.action_error ?? null,
      blocked_requests: result.blocked_requests ?? [],
      ...(session ? { session: toSessionResponse(session) } : {}),
      ...(stateSaved !== null && { state_saved: stateSaved }),
    };
  }
}
