import { Controller, Delete, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ValidBody } from '../common/validation';
import { BrowserService } from './browser.service';
import {
  acceptsRenderParts,
  encodeRenderParts,
  HealthResponse,
  RENDER_PART_LENGTHS_HEADER,
  RENDER_PARTS_TYPE,
  RenderRequestDto,
  RenderResponse,
} from '../renderer-rpc';
import { ContextKeyPipe } from './context-key.pipe';
import { RenderError } from './errors';
import { RenderOutcome, RenderService } from './render.service';

@Controller()
export class RenderController {
  constructor(
    private readonly renders: RenderService,
    private readonly browsers: BrowserService,
  ) {}

  /** Answers the parts form (see render-parts.ts) when asked for it, else the plain JSON form. */
  @Post('render')
  @HttpCode(200)
  async render(
    // A render carries the session's whole storage state: validated without the pipe's copy when it can be.
    @ValidBody(RenderRequestDto) body: RenderRequestDto,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RenderResponse | Buffer> {
    const outcome = await this.renders.render(body, abortWhenClientLeaves(reply));
    if (!acceptsRenderParts(accept)) return plainAnswer(outcome);
    const { page, state, send_state, context_reused } = outcome;
    const meta = { final_url: page.final_url, render_time_ms: page.render_time_ms, state_seq: state?.seq ?? null, context_reused };
    const parts = encodeRenderParts(meta, state && send_state ? state.json : null, page);
    reply.type(RENDER_PARTS_TYPE).header(RENDER_PART_LENGTHS_HEADER, parts.lengths);
    return parts.body;
  }

  @Get('healthz')
  async healthz(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthResponse> {
    const health = await this.renders.health();
    if (health.status !== 'ok') reply.status(503);
    return health;
  }

  /** Closes a context (its session was removed or expired); 204 whether or not it was warm here. */
  @Delete('contexts/:key')
  @HttpCode(204)
  closeContext(@Param('key', ContextKeyPipe) key: string): void {
    this.browsers.closeContext(key);
  }
}

/** The plain form carries the context's whole current state every time, as riptide-headless's does. */
function plainAnswer({ page, state, context_reused }: RenderOutcome): RenderResponse {
  return { ...page, storage_state: state?.state ?? null, state_seq: state?.seq ?? null, context_reused };
}

/** A client that hung up no longer needs its render: stop it and free the slot. */
function abortWhenClientLeaves(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) controller.abort(new RenderError('cancelled', 'client closed the connection'));
  });
  return controller.signal;
}
