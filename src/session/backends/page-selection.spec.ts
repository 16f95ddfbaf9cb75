import { smallestByKey } from './page-selection';
import { ShardedMap } from './sharded-map';

describe('smallestByKey', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `id-${String((i * 7919) % n).padStart(5, '0')}`);

  it.each([0, 1, 3, 10, 99, 100, 101, 1000])('picks the smallest in order from %i items', (n) => {
    const items = ids(n);
    const { page, more } = smallestByKey(items, (s) => s, 10);
    expect(page).toEqual([...items].sort().slice(0, 10));
    expect(more).toBe(n > 10);
  });
});

describe('ShardedMap', () => {
  it('behaves as a map: set, overwrite, get, delete, size, values', () => {
    const map = new ShardedMap<number>();
    for (let i = 0; i < 1000; i++) map.set(`user-${i}`, i);
    map.set('user-5', 55);
    expect(map.size).toBe(1000);
    expect(map.get('user-5')).toBe(55);
    expect(map.delete('user-7')).toBe(true);
    expect(map.delete('user-7')).toBe(false);
    expect(map.get('user-7')).toBeUndefined();
    expect(map.size).toBe(999);
    expect([...map.values()]).toHaveLength(999);
  });
});
