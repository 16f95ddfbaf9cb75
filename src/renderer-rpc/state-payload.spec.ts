import { withSavedState, withStateLeftOut } from './state-payload';

describe('withSavedState', () => {
  const state = { json: '{"cookies":[{"name":"a","value":"}{"}],"origins":[]}', seq: 7 };

  it('puts the state text in unparsed, as storage_state and state_seq', () => {
    const payload = withSavedState({ url: 'http://a.test/', context_key: 'k' }, state);
    expect(JSON.parse(payload)).toEqual({ storage_state: JSON.parse(state.json), state_seq: 7, url: 'http://a.test/', context_key: 'k' });
    expect(payload).toContain(state.json);
  });

  it('is the plain JSON without a state, and handles an empty body', () => {
    expect(withSavedState({ url: 'u' }, null)).toBe('{"url":"u"}');
    expect(JSON.parse(withSavedState({}, state))).toEqual({ storage_state: JSON.parse(state.json), state_seq: 7 });
  });

  it("keeps the caller's fields over whatever a malformed state text would add", () => {
    const payload = withSavedState({ url: 'http://a.test/' }, { json: '{},"url":"http://evil.test/"', seq: 1 });
    expect(JSON.parse(payload).url).toBe('http://a.test/');
  });
});

describe('withStateLeftOut', () => {
  it('carries the state_seq and state_omitted, and none of the state', () => {
    const payload = withStateLeftOut({ url: 'http://a.test/', context_key: 'k' }, { seq: 7 });
    expect(JSON.parse(payload)).toEqual({ state_seq: 7, state_omitted: true, url: 'http://a.test/', context_key: 'k' });
    expect(JSON.parse(withStateLeftOut({}, { seq: 3 }))).toEqual({ state_seq: 3, state_omitted: true });
  });
});
