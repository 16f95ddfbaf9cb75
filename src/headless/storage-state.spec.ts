import { canonicalState, mergeLocalStorage, StateCookie } from './storage-state';

const cookie = (name: string, domain = 'a.test', path = '/'): StateCookie => ({
  name,
  value: 'v',
  domain,
  path,
  expires: -1,
  httpOnly: false,
  secure: false,
  sameSite: 'Lax',
});
const items = (...names: string[]) => names.map((name) => ({ name, value: `v-${name}` }));

describe('canonicalState', () => {
  it('sorts cookies by name, domain and path, origins by origin, items by name; drops empty origins', () => {
    const state = canonicalState({
      cookies: [cookie('b'), cookie('a', 'b.test'), cookie('a', 'a.test', '/x'), cookie('a')],
      origins: [
        { origin: 'http://b.test', localStorage: items('z', 'a') },
        { origin: 'http://a.test', localStorage: items('m') },
        { origin: 'http://c.test', localStorage: [] },
      ],
    });
    expect(state.cookies.map((c) => [c.name, c.domain, c.path])).toEqual([
      ['a', 'a.test', '/'],
      ['a', 'a.test', '/x'],
      ['a', 'b.test', '/'],
      ['b', 'a.test', '/'],
    ]);
    expect(state.origins).toEqual([
      { origin: 'http://a.test', localStorage: items('m') },
      { origin: 'http://b.test', localStorage: items('a', 'z') },
    ]);
  });

  it('makes two orders of one state stringify alike, and keeps only origin and localStorage', () => {
    const one = canonicalState({ cookies: [cookie('x'), cookie('y')], origins: [{ origin: 'http://a.test', localStorage: items('1', '2') }] });
    const other = canonicalState({
      cookies: [cookie('y'), cookie('x')],
      origins: [{ origin: 'http://a.test', localStorage: items('2', '1'), indexedDB: [] } as never],
    });
    expect(JSON.stringify(one)).toBe(JSON.stringify(other));
  });

  it('takes a loose restored outline as Playwright does (an origin without localStorage)', () => {
    expect(canonicalState({ cookies: [], origins: [{ origin: 'http://a.test' } as never] })).toEqual({ cookies: [], origins: [] });
  });
});

describe('mergeLocalStorage', () => {
  const known = [
    { origin: 'http://a.test', localStorage: items('old') },
    { origin: 'http://b.test', localStorage: items('kept') },
  ];

  it('replaces live origins, keeps the others, adds new ones, in canonical order', () => {
    const merged = mergeLocalStorage(known, new Map([
      ['http://c.test', items('y', 'x')],
      ['http://a.test', items('new')],
    ]));
    expect(merged).toEqual([
      { origin: 'http://a.test', localStorage: items('new') },
      { origin: 'http://b.test', localStorage: items('kept') },
      { origin: 'http://c.test', localStorage: items('x', 'y') },
    ]);
  });

  it('drops a live origin whose localStorage is now empty', () => {
    expect(mergeLocalStorage(known, new Map([['http://a.test', []]]))).toEqual([{ origin: 'http://b.test', localStorage: items('kept') }]);
  });
});
