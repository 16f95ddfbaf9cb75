import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { MemorySessionBackend } from './backends/memory-session.backend';
import { RedisSessionBackend } from './backends/redis-session.backend';
import { SESSION_BACKEND, SessionBackend } from './backends/session-backend';
import { SessionCleanupService } from './session-cleanup.service';
import { SessionStore } from './session.store';
import { SessionsController } from './sessions.controller';

function createBackend(config: AppConfig): SessionBackend {
  switch (config.session_backend) {
    case 'memory':
      return new MemorySessionBackend();
    case 'redis':
      return new RedisSessionBackend({ url: config.redis_url, clusterNodes: config.redis_cluster_nodes });
  }
}

/** Global: the store is the NestJS form of RipTide's shared AppState session store. */
@Global()
@Module({
  controllers: [SessionsController],
  providers: [
    { provide: SESSION_BACKEND, useFactory: createBackend, inject: [AppConfig] },
    SessionStore,
    SessionCleanupService,
  ],
  exports: [SessionStore, SessionCleanupService],
})
export class SessionModule {}
