import { MemorySessionBackend } from '../src/session/backends/memory-session.backend';
import { BackendSubject, sessionBackendBehaviour } from './session-backend.behaviour';

const subjects: BackendSubject[] = [{ name: 'memory', create: async () => new MemorySessionBackend() }];

describe.each(subjects)('$name session backend', (subject) => {
  sessionBackendBehaviour(subject);
});
