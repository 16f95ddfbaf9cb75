import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { QueryTokenAccepted } from '../auth/query-token.decorator';
import { Tenant } from '../auth/tenant.decorator';
import { SessionIdPipe } from '../session/session-id.pipe';
import { CdpGateway } from './cdp-gateway.service';

@ApiTags('sessions')
@Controller({ path: 'sessions', version: '1' })
export class CdpController {
  constructor(private readonly gateway: CdpGateway) {}

  @Get(':id/cdp')
  @QueryTokenAccepted()
  @ApiOperation({
    summary: "Drive the session's own browser over CDP (WebSocket)",
    description:
      'Upgrade to a WebSocket speaking the Chrome DevTools Protocol: give this ws:// (wss://) URL to Playwright ' +
      '`chromium.connectOverCDP(url, { headers })` or Puppeteer `connect({ browserWSEndpoint: url, headers })`. ' +
      "The session (the caller's tenant's) is got or created; connecting reserves one request. The browser's default " +
      "context holds the session's cookies and localStorage; they are saved back when the connection ends " +
      '(socket closed, Browser.close, idle CDP_IDLE_SECONDS, CDP_MAX_SECONDS, expiry without auto_renew, DELETE: ' +
      'close 1008 with a reason). One connection per session.',
  })
  @ApiHeader({ name: 'Upgrade', required: true, description: 'websocket' })
  @ApiQuery({ name: 'token', required: false, description: 'the API key, for clients that cannot set headers (this route only; never logged)' })
  @ApiResponse({ status: 101, description: 'Switching Protocols: the CDP WebSocket' })
  @ApiResponse({ status: 401, description: 'missing or invalid API key' })
  @ApiResponse({ status: 409, description: 'session in use (it already has a connection)' })
  @ApiResponse({ status: 429, description: 'session request limit reached (count/max)' })
  @ApiResponse({ status: 503, description: 'CDP capacity reached (CDP_MAX_CONNECTIONS per renderer), with Retry-After' })
  connect(
    @Param('id', SessionIdPipe) id: string,
    @Tenant() tenant: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.gateway.connect(tenant, id, request, reply);
  }
}
