import { isoTimestamp } from './iso-time';

describe('isoTimestamp', () => {
  const same = (ms: number) => expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());

  it('matches toISOString at the edges of days, months, leap days, centuries and its range', () => {
    const edges = [
      '1970-01-01T00:00:00.000Z',
      '1999-12-31T23:59:59.999Z',
      '2000-02-29T12:00:00.000Z',
      '2000-03-01T00:00:00.000Z',
      '2100-02-28T23:59:59.999Z',
      '2100-03-01T00:00:00.000Z',
      '2024-02-29T23:59:59.999Z',
      '2026-12-31T23:59:59.999Z',
      '2027-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
    ];
    for (const iso of edges) {
      const ms = Date.parse(iso);
      for (const delta of [-1, 0, 1]) if (ms + delta >= 0) same(ms + delta);
    }
  });

  it('matches toISOString on random times from 1970 to 9999', () => {
    let seed = 42;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) same(Math.floor(next() * 253_402_300_799_999));
  });

  it('defers to Date outside its fast path, throwing where Date throws', () => {
    for (const ms of [-1, -86_400_001, 253_402_300_800_000, 1.5]) same(ms);
    expect(() => isoTimestamp(Number.NaN)).toThrow(RangeError);
  });
});
