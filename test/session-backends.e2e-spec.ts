import { MemorySessionBackend } from '../src/session/backends/memory-session.backend';
import { RedisSessionBackend } from '../src/session/backends/redis-session.backend';
import { BackendSubject, sessionBackendBehaviour } from './session-backend.behaviour';
import { createRedisBackend, disposeRedisBackend } from './support/redis';

/** This file's Redis database; every test gets its own key prefix inside it. */
const REDIS_DB = 11;

const subjects: BackendSubject[] = [
  { name: 'memory', create: async () => new MemorySessionBackend() },
  {
    name: 'redis',
    create: () => createRedisBackend(REDIS_DB, 'behaviour'),
    dispose: (backend) => disposeRedisBackend(backend as RedisSessionBackend, REDIS_DB),
  },
];

describe.each(subjects)('$name session backend', (subject) => {
  sessionBackendBehaviour(subject);
});
