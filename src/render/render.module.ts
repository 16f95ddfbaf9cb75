import { Global, Module } from '@nestjs/common';
import { RequestLimitGuard } from '../session/request-limit.guard';
import { EmbeddedRenderer } from './embedded-renderer.service';
import { RenderController } from './render.controller';
import { RenderRequestGuard } from './render-request.guard';
import { RendererPool } from './renderer-pool';
import { RpcClient } from './rpc-client.service';
import { TenantConcurrencyGuard } from './tenant-concurrency.guard';
import { UrlPolicy } from './url-policy';

/** Global: RpcClient is shared like RipTide's AppState client; health probes the RendererPool. */
@Global()
@Module({
  controllers: [RenderController],
  providers: [EmbeddedRenderer, RendererPool, RpcClient, UrlPolicy, RenderRequestGuard, TenantConcurrencyGuard, RequestLimitGuard],
  exports: [RpcClient, RendererPool, UrlPolicy],
})
export class RenderModule {}
