import * as rpc from '../renderer-rpc';
// The contract's index re-exports through getters that cannot be spied on; its source module can.
import * as keyModule from '../renderer-rpc/context-key';
import { RendererKeys } from './renderer-keys';

const SECRET = 'renderer-token-0123456789abcdef';
const ref = (id: string, incarnation = 'inc-1', tenant = 'acme') => ({ tenant, id, incarnation });

describe('RendererKeys', () => {
  afterEach(() => jest.restoreAllMocks());

  it('gives the contract’s keys: contextKey per session incarnation, queueKey per tenant', () => {
    const keys = new RendererKeys(SECRET);
    expect(keys.context(ref('s1'))).toBe(rpc.contextKey(SECRET, { tenant: 'acme', sessionId: 's1', incarnation: 'inc-1' }));
    expect(keys.context(ref('s1', 'inc-2'))).not.toBe(keys.context(ref('s1')));
    expect(keys.context(ref('s1', 'inc-1', 'other'))).not.toBe(keys.context(ref('s1')));
    expect(keys.queue('acme')).toBe(rpc.queueKey(SECRET, 'acme'));
  });

  it('computes a key once, and again only after it was forgotten past the bound', () => {
    const computed = jest.spyOn(keyModule, 'contextKey');
    const keys = new RendererKeys(SECRET, 2);
    const first = keys.context(ref('a'));
    expect(keys.context(ref('a'))).toBe(first);
    expect(computed).toHaveBeenCalledTimes(1);
    keys.context(ref('b'));
    keys.context(ref('c')); // the third: 'a', the oldest, is forgotten
    expect(computed).toHaveBeenCalledTimes(3);
    keys.context(ref('c'));
    expect(computed).toHaveBeenCalledTimes(3);
    expect(keys.context(ref('a'))).toBe(first);
    expect(computed).toHaveBeenCalledTimes(4);
  });
});
