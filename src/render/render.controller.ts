import { Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RENDER_ACTION_CLASSES } from '../renderer-rpc';
import type { FastifyRequest } from 'fastify';
import { RequestLimitGuard, reservationOf } from '../session/request-limit.guard';
import { toSessionResponse } from '../session/dto/session.response';
import { RenderDto } from './dto/render.dto';
import { RenderRequestGuard, ValidatedRender } from './render-request.guard';
import { RpcClient } from './rpc-client.service';

@ApiTags('render')
@ApiExtraModels(...RENDER_ACTION_CLASSES)
@Controller({ path: 'render', version: '1' })
export class RenderController {
  constructor(private readonly rpc: RpcClient) {}

  @Post()
  @HttpCode(200)
  @UseGuards(RenderRequestGuard, RequestLimitGuard)
  @ApiOperation({ summary: 'Render a page, optionally in a session (its browser state is kept)' })
  @ApiBody({ type: RenderDto })
  async render(@ValidatedRender() dto: RenderDto, @Req() request: FastifyRequest) {
    const { url, session_id: _sessionId, ...config } = dto;
    const reservation = reservationOf(request);
    const { result, session, stateSaved } = reservation
      ? await this.rpc.renderReserved(reservation, url, config, request.id)
      : { result: await this.rpc.renderDynamic(url, config, request.id), session: null, stateSaved: null };
    return {
      final_url: result.final_url,
      html: result.html,
      screenshot_b64: result.screenshot_b64 ?? null,
      mhtml_b64: result.mhtml_b64 ?? null,
      render_time_ms: result.render_time_ms,
      actions_executed: result.actions_executed ?? [],
      action_error: result.action_error ?? null,
      ...(session ? { session: toSessionResponse(session) } : {}),
      ...(stateSaved !== null && { state_saved: stateSaved }),
    };
  }
}
