import { Global, Module } from '@nestjs/common';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { SessionMetricsRecorder, TimedSessionBackend } from '../metrics/session-metrics.recorder';
import { MemorySessionBackend } from './backends/memory-session.backend';
import { RedisSessionBackend } from './backends/redis-session.backend';
import { SESSION_BACKEND, SessionBackend } from './backends/session-backend';
import { MemorySessionLocks } from './locks/memory-session-locks';
import { RedisSessionLocks } from './locks/redis-session-locks';
import { SESSION_LOCKS, SessionLocks } from './locks/session-locks';
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

/** The CDP connection locks live where the sessions do: one instance's memory, or Redis for all. */
function createLocks(config: AppConfig, clock: Clock): SessionLocks {
  switch (config.session_backend) {
    case 'memory':
      return new MemorySessionLocks(clock);
    case 'redis':
      return new RedisSessionLocks({ url: config.redis_url, clusterNodes: config.redis_cluster_nodes });
  }
}

/** Global: the store is the NestJS form of RipTide's shared AppState session store. */
@Global()
@Module({
  controllers: [SessionsController],
  providers: [
    { provide: SESSION_BACKEND, useFactory: createBackend, inject: [AppConfig] },
    { provide: SESSION_LOCKS, useFactory: createLocks, inject: [AppConfig, Clock] },
    {
      provide: SessionStore,
      // The store uses the backend through the timing wrapper; Nest keeps the backend itself
      // (SESSION_BACKEND) for its lifecycle hooks.
      useFactory: (backend: SessionBackend, clock: Clock, config: AppConfig, recorder: SessionMetricsRecorder) =>
        new SessionStore(new TimedSessionBackend(backend, recorder), clock, config, recorder),
      inject: [SESSION_BACKEND, Clock, AppConfig, SessionMetricsRecorder],
    },
    SessionCleanupService,
  ],
  exports: [SessionStore, SessionCleanupService, SESSION_LOCKS],
})
export class SessionModule {}
