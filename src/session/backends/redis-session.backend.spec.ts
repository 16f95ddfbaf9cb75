import { ReplyError } from 'ioredis';
import { SESSION_SCRIPTS } from './lua/session-scripts';
import { sessionKeys, translate } from './redis-session.backend';
import { BackendUnavailableError } from './session-backend';

describe('RedisSessionBackend (no server needed)', () => {
  describe('error translation', () => {
    it('turns connection failures and timeouts into BackendUnavailableError (503)', () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
      for (const [err, code] of [
        [refused, 'ECONNREFUSED'],
        [new Error("Stream isn't writeable and enableOfflineQueue options is false"), 'ENOTCONN'],
        [new Error('Command timed out'), 'ETIMEDOUT'],
        [new Error('Connection is closed.'), 'ENOTCONN'],
      ] as const) {
        const translated = translate(err) as BackendUnavailableError;
        expect(translated).toBeInstanceOf(BackendUnavailableError);
        expect(translated.getStatus()).toBe(503);
        expect(translated.message).toBe('session backend unavailable');
        expect(translated.cause).toBe(err);
        expect(translated.code).toBe(code);
      }
    });

    it('treats "Redis cannot serve now" replies as unavailable, and other reply errors as bugs', () => {
      const loading = translate(new ReplyError('LOADING Redis is loading the dataset in memory'));
      expect(loading).toBeInstanceOf(BackendUnavailableError);
      expect((loading as BackendUnavailableError).code).toBe('LOADING');
      expect(translate(new ReplyError("READONLY You can't write against a read only replica."))).toBeInstanceOf(BackendUnavailableError);
      const bug = new ReplyError('ERR user_script:1: Script attempted to access nonexistent global variable');
      expect(translate(bug)).toBe(bug);
    });
  });

  describe('keys', () => {
    it("puts a session's own keys under one hash tag, and its tenant's indexes under another", () => {
      const keys = sessionKeys('p:', 'acme', 'rpc_session:1.a-b');
      expect(keys.slice(0, 4)).toEqual([
        'p:sess:{acme:rpc_session:1.a-b}',
        'p:meta:{acme:rpc_session:1.a-b}',
        'p:times:{acme:rpc_session:1.a-b}',
        'p:state:{acme:rpc_session:1.a-b}',
      ]);
      expect(keys.slice(4)).toEqual([
        'p:ids:{acme}',
        'p:exp:{acme}',
        'p:exp',
        'p:stats',
        'p:times',
        'p:stats:{acme}',
        'p:times:{acme}',
        'p:unreported',
      ]);
    });

    it('refuses tenants and ids that would break the hash tag or the index member', () => {
      expect(() => sessionKeys('p:', 'a:b', 'x')).toThrow(/tenant/);
      expect(() => sessionKeys('p:', 'a}', 'x')).toThrow(/tenant/);
      expect(() => sessionKeys('p:', 'a', 'x}{')).toThrow(/session id/);
      expect(() => sessionKeys('p:', 'a', 'x|y')).toThrow(/session id/);
    });
  });

  it('declares the key count of every script', () => {
    for (const [name, script] of Object.entries(SESSION_SCRIPTS)) {
      expect(script.numberOfKeys).toBeGreaterThan(0);
      expect(script.lua.length).toBeGreaterThan(0);
      // Scripts must not depend on the Redis clock or scan the keyspace.
      expect({ name, time: /'TIME'|'KEYS'|'SCAN'/.test(script.lua) }).toEqual({ name, time: false });
    }
  });
});
