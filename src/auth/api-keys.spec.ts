import { timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/app-config';
import { ApiKeyRing } from './api-keys';

// Observe the comparisons while keeping the real implementation.
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, timingSafeEqual: jest.fn(actual.timingSafeEqual) };
});

describe('ApiKeyRing', () => {
  const ring = new ApiKeyRing(['key-alpha-0001:alpha', 'key-beta-0002:beta', 'key-alpha-0003:alpha']);

  it("resolves each key to its tenant", () => {
    expect(ring.tenantFor('key-alpha-0001')).toBe('alpha');
    expect(ring.tenantFor('key-beta-0002')).toBe('beta');
    expect(ring.tenantFor('key-alpha-0003')).toBe('alpha');
  });

  it('refuses anything else: unknown, empty, prefix, extension, other case, surrounding space', () => {
    for (const bad of ['', 'nope', 'key-alpha-000', 'key-alpha-00011', 'KEY-ALPHA-0001', ' key-alpha-0001', 'key-alpha-0001:alpha']) {
      expect(ring.tenantFor(bad)).toBeNull();
    }
  });

  it('compares 32-byte digests with timingSafeEqual against every entry, even after a match', () => {
    const spy = jest.mocked(timingSafeEqual);
    for (const presented of ['key-alpha-0001', 'x', 'a much much longer presented key than any configured one']) {
      spy.mockClear();
      ring.tenantFor(presented);
      expect(spy).toHaveBeenCalledTimes(3);
      for (const [a, b] of spy.mock.calls) {
        expect((a as Buffer).length).toBe(32);
        expect((b as Buffer).length).toBe(32);
      }
    }
  });

  it('counts keys and distinct tenants; enabled only with keys', () => {
    expect(ring.size).toBe(3);
    expect(ring.tenants).toEqual(['alpha', 'beta']);
    expect(ring.enabled).toBe(true);
    const open = new ApiKeyRing([]);
    expect(open.enabled).toBe(false);
    expect(open.tenantFor('anything')).toBeNull();
  });

  it('does not keep the keys in memory, only digests', () => {
    expect(JSON.stringify(ring)).not.toContain('key-alpha-0001');
  });

  it('refuses a key listed twice with a ConfigError that does not contain the key', () => {
    let error: unknown;
    try {
      new ApiKeyRing(['secret-key-1:alpha', 'secret-key-1:beta']);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^config error: API_KEYS .*twice/);
    expect((error as Error).message).not.toContain('secret-key-1');
  });

  it('refuses a malformed entry', () => {
    expect(() => new ApiKeyRing(['no-tenant-here'])).toThrow(ConfigError);
    expect(() => new ApiKeyRing(['key-0000001:'])).toThrow(ConfigError);
  });
});
