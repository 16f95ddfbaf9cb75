/**
 * Per-renderer breaker: after `threshold` consecutive failures to reach a renderer it is
 * skipped for `cooldownMs`; then one call is let through (half-open) to probe it.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly threshold = 3,
    private readonly cooldownMs = 5000,
  ) {}

  allows(now: number): boolean {
    if (this.failures < this.threshold) return true;
    if (now < this.openUntil || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
  }

  failure(now: number): void {
    this.failures++;
    this.probing = false;
    if (this.failures >= this.threshold) this.openUntil = now + this.cooldownMs;
  }

  get open(): boolean {
    return this.failures >= this.threshold;
  }
}
