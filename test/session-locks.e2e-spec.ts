/**
 * The CDP connection lock, one behaviour for both implementations: memory (on a fake clock)
 * and Redis (database 10, real time with short leases).
 */
import { FakeClock } from '../src/common/clock';
import { MemorySessionLocks } from '../src/session/locks/memory-session-locks';
import { RedisSessionLocks } from '../src/session/locks/redis-session-locks';
import { SessionLocks } from '../src/session/locks/session-locks';
import { deleteKeys, redisUrl } from './support/redis';

const DB = 10;
const PREFIX = 'rt-test:locks:';

interface Subject {
  locks: SessionLocks;
  /** Lets `ms` pass for the locks. */
  pass(ms: number): Promise<void>;
  close(): Promise<void>;
}

const subjects: [string, () => Promise<Subject>][] = [
  [
    'memory',
    async () => {
      const clock = new FakeClock();
      return { locks: new MemorySessionLocks(clock), pass: async (ms) => clock.advance(ms), close: async () => undefined };
    },
  ],
  [
    'redis',
    async () => {
      const locks = new RedisSessionLocks({ url: redisUrl(DB), prefix: PREFIX });
      await locks.onModuleInit();
      return {
        locks,
        pass: (ms) => new Promise((r) => setTimeout(r, ms)),
        close: async () => {
          locks.onApplicationShutdown();
          await deleteKeys(DB, PREFIX);
        },
      };
    },
  ],
];

describe.each(subjects)('session locks (%s)', (_name, make) => {
  let subject: Subject;
  beforeEach(async () => (subject = await make()));
  afterEach(() => subject.close());

  it('one holder at a time, per tenant and session', async () => {
    const { locks } = subject;
    const held = await locks.acquire('t1', 's', 1000);
    expect(held).not.toBeNull();
    expect(await locks.acquire('t1', 's', 1000)).toBeNull();
    expect(await locks.acquire('t2', 's', 1000)).not.toBeNull();
    expect(await locks.acquire('t1', 's2', 1000)).not.toBeNull();
    expect(await locks.phase('t1', 's')).toBe('connected');
    await locks.release(held!);
    expect(await locks.phase('t1', 's')).toBeNull();
    expect(await locks.acquire('t1', 's', 1000)).not.toBeNull();
  });

  it('refresh renews the lease and sets the phase; the lease runs out without it', async () => {
    const { locks } = subject;
    const held = (await locks.acquire('t', 'lease', 300))!;
    await subject.pass(200);
    expect(await locks.refresh(held, 'saving', 300)).toBe(true);
    expect(await locks.phase('t', 'lease')).toBe('saving');
    await subject.pass(200);
    expect(await locks.phase('t', 'lease')).toBe('saving');
    await subject.pass(200);
    expect(await locks.phase('t', 'lease')).toBeNull();
    expect(await locks.refresh(held, 'connected', 300)).toBe(false);
  });

  it("a former holder can neither refresh nor release the next holder's lock", async () => {
    const { locks } = subject;
    const old = (await locks.acquire('t', 'taken', 100))!;
    await subject.pass(150);
    const next = (await locks.acquire('t', 'taken', 1000))!;
    expect(next.token).not.toBe(old.token);
    expect(await locks.refresh(old, 'saving', 1000)).toBe(false);
    await locks.release(old);
    expect(await locks.phase('t', 'taken')).toBe('connected');
    expect(await locks.refresh(next, 'saving', 1000)).toBe(true);
  });
});
