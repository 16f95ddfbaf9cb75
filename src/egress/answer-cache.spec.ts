import { FakeClock } from '../common/clock';
import { AnswerCacheOptions, cacheAnswers } from './answer-cache';
import type { ResolveOutcome } from './host-resolver';

/** A resolver answering from `answers` (a host missing there fails), counting what it is asked. */
function fakeResolver(answers: Record<string, ResolveOutcome>) {
  const asked: string[] = [];
  let release: (() => void) | null = null;
  let held: Promise<void> = Promise.resolve();
  return {
    asked,
    /** Answers wait until `release()`. */
    hold() {
      held = new Promise<void>((resolve) => (release = resolve));
    },
    release: () => release?.(),
    resolve: async (host: string): Promise<ResolveOutcome> => {
      asked.push(host);
      await held;
      return answers[host] ?? { ok: false, error: 'ENOTFOUND' };
    },
  };
}

const OPTIONS: AnswerCacheOptions = { untimedMs: 10_000, maxMs: 60_000, maxNames: 3 };
const answer = (ttlSeconds?: number): ResolveOutcome => ({ ok: true, addresses: ['93.184.216.34'], ...(ttlSeconds !== undefined && { ttlSeconds }) });

describe('cacheAnswers', () => {
  let clock: FakeClock;
  beforeEach(() => (clock = new FakeClock()));

  it('keeps an answer without a TTL for untimedMs, then asks again', async () => {
    const dns = fakeResolver({ 'a.test': answer() });
    const resolve = cacheAnswers(dns.resolve, clock, OPTIONS);
    expect(await resolve('a.test')).toEqual(answer());
    clock.advance(9_999);
    expect(await resolve('a.test')).toEqual(answer());
    expect(dns.asked).toEqual(['a.test']);
    clock.advance(1);
    await resolve('a.test');
    expect(dns.asked).toEqual(['a.test', 'a.test']);
  });

  it("keeps an answer for its records' TTL, never past maxMs, and not at all with TTL 0", async () => {
    const dns = fakeResolver({ 'short.test': answer(2), 'long.test': answer(86_400), 'zero.test': answer(0) });
    const resolve = cacheAnswers(dns.resolve, clock, OPTIONS);
    for (const host of ['short.test', 'long.test', 'zero.test']) await resolve(host);
    clock.advance(1_999);
    for (const host of ['short.test', 'long.test', 'zero.test']) await resolve(host);
    expect(dns.asked.sort()).toEqual(['long.test', 'short.test', 'zero.test', 'zero.test']);
    clock.advance(1);
    await resolve('short.test');
    clock.advance(60_000 - 2_000);
    await resolve('long.test');
    expect(dns.asked.filter((h) => h !== 'zero.test').sort()).toEqual(['long.test', 'long.test', 'short.test', 'short.test']);
  });

  it('never keeps a failure: the next check asks again', async () => {
    const dns = fakeResolver({});
    const resolve = cacheAnswers(dns.resolve, clock, OPTIONS);
    expect(await resolve('new.test')).toEqual({ ok: false, error: 'ENOTFOUND' });
    expect(await resolve('new.test')).toEqual({ ok: false, error: 'ENOTFOUND' });
    expect(dns.asked).toEqual(['new.test', 'new.test']);
  });

  it('asks once for a name that concurrent checks want', async () => {
    const dns = fakeResolver({ 'a.test': answer(0) });
    const resolve = cacheAnswers(dns.resolve, clock, OPTIONS);
    dns.hold();
    const answers = Promise.all([resolve('a.test'), resolve('a.test'), resolve('a.test')]);
    dns.release();
    expect(await answers).toEqual([answer(0), answer(0), answer(0)]);
    expect(dns.asked).toEqual(['a.test']);
    // Once answered (TTL 0: not kept), the next check asks again.
    await resolve('a.test');
    expect(dns.asked).toEqual(['a.test', 'a.test']);
  });

  it('holds at most maxNames names, dropping the oldest answer first', async () => {
    const dns = fakeResolver({ 'a.test': answer(), 'b.test': answer(), 'c.test': answer(), 'd.test': answer() });
    const resolve = cacheAnswers(dns.resolve, clock, OPTIONS);
    for (const host of ['a.test', 'b.test', 'c.test', 'd.test']) await resolve(host);
    for (const host of ['b.test', 'c.test', 'd.test']) await resolve(host);
    expect(dns.asked).toEqual(['a.test', 'b.test', 'c.test', 'd.test']);
    await resolve('a.test');
    expect(dns.asked).toEqual(['a.test', 'b.test', 'c.test', 'd.test', 'a.test']);
  });
});
