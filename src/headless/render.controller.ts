import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { BrowserService } from './browser.service';
import { HealthResponse, RenderRequestDto, RenderResponse } from '../renderer-rpc';
import { ContextKeyPipe } from './context-key.pipe';
import { RenderError } from './errors';
import { RenderService } from './render.service';

@Controller()
export class RenderController {
  constructor(
    private readonly renders: RenderService,
    private readonly browsers: BrowserService,
  ) {}

  @Post('render')
  @HttpCode(200)
  render(@Body() body: RenderRequestDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<RenderResponse> {
    return this.renders.render(body, abortWhenClientLeaves(reply));
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

/** A client that hung up no longer needs its render: stop it and free the slot. */
function abortWhenClientLeaves(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) controller.abort(new RenderError('cancelled', 'client closed the connection'));
  });
  return controller.signal;
}
