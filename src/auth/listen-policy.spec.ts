import { ConfigError } from '../config/app-config';
import { checkListenSecurity, isLoopbackHost } from './listen-policy';

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

describe('checkListenSecurity', () => {
  it('allows loopback without keys and says the API is open', () => {
    expect(checkListenSecurity({ host: '127.0.0.1', api_keys: [] })).toBe(
      'no API keys configured: listening on 127.0.0.1 only, every caller is tenant "default"',
    );
  });

  it.each(['0.0.0.0', '::', '10.1.2.3', 'api.internal'])('refuses HOST=%s without keys, in one line naming HOST', (host) => {
    let error: unknown;
    try {
      checkListenSecurity({ host, api_keys: [] });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^config error: HOST \(host\) /);
    expect(message).toContain(JSON.stringify(host));
    expect(message).toContain('API_KEYS');
    expect(message).not.toContain('\n');
  });

  it('allows any host with keys and counts keys and tenants, never printing a key', () => {
    const line = checkListenSecurity({ host: '0.0.0.0', api_keys: ['key-alpha-0001:alpha', 'key-alpha-0002:alpha', 'key-beta-0003:beta'] });
    expect(line).toBe('API keys required: 3 keys for 2 tenants');
    expect(checkListenSecurity({ host: '127.0.0.1', api_keys: ['key-alpha-0001:alpha'] })).toBe('API keys required: 1 key for 1 tenant');
    expect(line).not.toMatch(/key-/);
  });

  it('refuses a duplicated key before the app is built', () => {
    expect(() => checkListenSecurity({ host: '0.0.0.0', api_keys: ['dup-key-0001:a', 'dup-key-0001:b'] })).toThrow(ConfigError);
  });
});
