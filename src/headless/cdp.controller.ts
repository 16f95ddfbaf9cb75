import { BadRequestException, Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { acceptUpgrade, upgradeRefusal } from '../common/websocket-upgrade';
import { CdpEndResponse, CdpStartRequestDto } from '../renderer-rpc';
import { CdpService } from './cdp.service';
import { ContextKeyPipe } from './context-key.pipe';

/** The renderer's CDP endpoints (see cdpPath in the contract); token-protected like every route but /healthz. */
@Controller('cdp')
export class CdpController {
  constructor(private readonly cdp: CdpService) {}

  @Post(':key')
  @HttpCode(204)
  start(@Param('key', ContextKeyPipe) key: string, @Body() body: CdpStartRequestDto): Promise<void> {
    return this.cdp.start(key, body);
  }

  /** The API's socket: proxied, command by command, to the key's browser. */
  @Get(':key')
  async attach(@Param('key', ContextKeyPipe) key: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const refusal = upgradeRefusal(request);
    if (refusal) throw new BadRequestException(refusal);
    const connection = this.cdp.attachable(key);
    await connection.openUpstream();
    const socket = await acceptUpgrade(this.cdp.sockets, request, reply);
    if (socket) connection.attach(socket);
    else await connection.end();
  }

  @Post(':key/end')
  @HttpCode(200)
  end(@Param('key', ContextKeyPipe) key: string): Promise<CdpEndResponse> {
    return this.cdp.end(key);
  }
}
