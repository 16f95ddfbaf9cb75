import { ConfigError } from '../config/app-config';
import { decideListen, isLoopbackHost } from './listen-policy';

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])(
    '%s is loopback',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );
  it.each(['0.0.0.0', '::', '[::]', '10.0.0.5', '192.168.1.2', '::ffff:10.0.0.1', 'example.com', 'localhost.example.com', '', '128.0.0.1'])(
    '%s is not loopback',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
});

describe('decideListen', () => {
  it('listens on loopback without keys and says the API is open', () => {
    expect(decideListen({ host: '127.0.0.1', api_keys: [] })).toEqual({
      host: '127.0.0.1',
      open: true,
      line: 'no API keys configured: listening on 127.0.0.1 only, every caller is tenant "default"',
    });
  });

  it.each(['0.0.0.0', '::', '10.1.2.3', 'api.internal'])('binds 127.0.0.1 instead of HOST=%s without keys, and says so', (host) => {
    const decision = decideListen({ host, api_keys: [] });
    expect(decision.host).toBe('127.0.0.1');
    expect(decision.open).toBe(true);
    expect(decision.line).toContain(JSON.stringify(host));
    expect(decision.line).toContain('127.0.0.1 only');
    expect(decision.line).not.toContain('\n');
  });

  it('honours any host with keys and counts keys and tenants, never printing a key', () => {
    const decision = decideListen({ host: '0.0.0.0', api_keys: ['key-alpha-0001:alpha', 'key-alpha-0002:alpha', 'key-beta-0003:beta'] });
    expect(decision).toEqual({ host: '0.0.0.0', open: false, line: 'API keys required: 3 keys for 2 tenants' });
    expect(decideListen({ host: '127.0.0.1', api_keys: ['key-alpha-0001:alpha'] }).line).toBe('API keys required: 1 key for 1 tenant');
    expect(decision.line).not.toMatch(/key-/);
  });

  it('refuses a duplicated key before the app is built', () => {
    expect(() => decideListen({ host: '0.0.0.0', api_keys: ['dup-key-0001:a', 'dup-key-0001:b'] })).toThrow(ConfigError);
  });
});
