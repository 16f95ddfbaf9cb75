import { BadRequestException, Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { BrowserService } from './browser.service';
import { SESSION_ID_PATTERN } from '../session/session';
import { HealthResponse, RenderRequestDto, RenderResponse } from './dto';
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

  /** Closes the session's browser context; 204 whether or not it had one. */
  @Delete('sessions/:id')
  @HttpCode(204)
  closeSession(@Param('id') id: string): void {
    if (!SESSION_ID_PATTERN.test(id)) throw new BadRequestException('id must be 1-128 characters of [A-Za-z0-9._:-]');
    this.browsers.closeSession(id);
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
