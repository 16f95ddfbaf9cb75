/** A point in time that every step of one render must finish before. */
export class Deadline {
  constructor(
    readonly at: number,
    private readonly now: () => number = Date.now,
  ) {}

  static after(ms: number, now: () => number = Date.now): Deadline {
    return new Deadline(now() + ms, now);
  }

  remaining(): number {
    return Math.max(0, this.at - this.now());
  }

  get expired(): boolean {
    return this.remaining() === 0;
  }

  /**
   * `ms` limited to what is left, and never 0: Playwright reads a timeout of 0 as "wait
   * forever", the opposite of what an exhausted deadline means.
   */
  clamp(ms: number): number {
    return Math.max(1, Math.min(ms, this.remaining()));
  }
}
