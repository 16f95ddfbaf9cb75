import { ReplyError } from 'ioredis';
import { SESSION_SCRIPTS } from './lua/session-scripts';
import { BUCKET_TAGS, bucketOf, sessionKeys } from './lua/key-layout';
import { translate } from './redis-session.backend';
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
    it("puts every key of a session's scripts under its bucket's one hash tag", () => {
      const keys = sessionKeys('p:', 'acme', 'rpc_session:1.a-b');
      const tag = `{${BUCKET_TAGS[bucketOf('acme', 'rpc_session:1.a-b')]}}`;
      expect(keys).toEqual([
        `p:sess:${tag}:acme:rpc_session:1.a-b`,
        `p:meta:${tag}:acme:rpc_session:1.a-b`,
        `p:times:${tag}:acme:rpc_session:1.a-b`,
        `p:state:${tag}:acme:rpc_session:1.a-b`,
        `p:ids:${tag}:acme`,
        `p:exp:${tag}:acme`,
        `p:exp:${tag}`,
        `p:stats:${tag}`,
        `p:times:${tag}`,
        `p:stats:${tag}:acme`,
        `p:times:${tag}:acme`,
        `p:unreported:${tag}`,
        `p:unsettled:${tag}:acme`,
        `p:unsettled:${tag}`,
      ]);
    });

    it("spreads a tenant's sessions over every bucket", () => {
      const counts = new Array<number>(BUCKET_TAGS.length).fill(0);
      for (let i = 0; i < 1600; i++) counts[bucketOf('acme', `user-${i}`)]++;
      expect(Math.min(...counts)).toBeGreaterThan(60);
      expect(Math.max(...counts)).toBeLessThan(140);
    });

    it('refuses tenants and ids that would break the hash tag or the index member', () => {
      expect(() => sessionKeys('p:', 'a:b', 'x')).toThrow(/tenant/);
      expect(() => sessionKeys('p:', 'a}', 'x')).toThrow(/tenant/);
      expect(() => sessionKeys('p:', '*', 'x')).toThrow(/tenant/);
      expect(() => sessionKeys('p:', 'a', 'x}{')).toThrow(/session id/);
      expect(() => sessionKeys('p:', 'a', 'x|y')).toThrow(/session id/);
    });
  });

  it('declares the key count of every script (or is given it per call)', () => {
    for (const [name, script] of Object.entries(SESSION_SCRIPTS)) {
      expect({ name, keys: 'numberOfKeys' in script ? script.numberOfKeys > 0 : name === 'rtListFetch' }).toEqual({ name, keys: true });
      expect(script.lua.length).toBeGreaterThan(0);
      // Scripts must not depend on the Redis clock or scan the keyspace.
      expect({ name, time: /'TIME'|'KEYS'|'SCAN'/.test(script.lua) }).toEqual({ name, time: false });
    }
  });
});
