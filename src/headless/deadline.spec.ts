import { Deadline } from './deadline';

describe('Deadline', () => {
  it('counts down and clamps timeouts to what is left, never to 0', () => {
    let now = 1000;
    const d = Deadline.after(500, () => now);
    expect(d.remaining()).toBe(500);
    expect(d.clamp(5000)).toBe(500);
    expect(d.clamp(100)).toBe(100);
    now = 1600;
    expect(d.remaining()).toBe(0);
    expect(d.expired).toBe(true);
    expect(d.clamp(100)).toBe(1);
  });
});
