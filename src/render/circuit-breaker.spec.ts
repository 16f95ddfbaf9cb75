import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  it('opens after consecutive failures, probes once after the cooldown, closes on success', () => {
    const breaker = new CircuitBreaker(3, 1000);
    breaker.failure(0);
    breaker.failure(0);
    expect(breaker.allows(0)).toBe(true);
    breaker.failure(0);
    expect(breaker.allows(500)).toBe(false);
    expect(breaker.allows(1000)).toBe(true);
    expect(breaker.allows(1000)).toBe(false);
    breaker.failure(1000);
    expect(breaker.allows(1500)).toBe(false);
    expect(breaker.allows(2000)).toBe(true);
    breaker.success();
    expect(breaker.open).toBe(false);
    expect(breaker.allows(2000)).toBe(true);
  });

  it('a success between failures resets the count', () => {
    const breaker = new CircuitBreaker(2, 1000);
    breaker.failure(0);
    breaker.success();
    breaker.failure(0);
    expect(breaker.allows(0)).toBe(true);
  });
});
