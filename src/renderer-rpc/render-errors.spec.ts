import { refusedBeforeStart } from './render-errors';

describe('refusedBeforeStart', () => {
  it('passes a render on for the kinds a renderer refuses with before starting it', () => {
    for (const kind of ['busy', 'shutting_down', 'browser_unavailable']) expect(refusedBeforeStart(503, kind)).toBe(true);
  });

  it("passes it on for a 503 without a kind: the renderer's framework answering while it closes", () => {
    expect(refusedBeforeStart(503, undefined)).toBe(true);
  });

  it('keeps every other answer: the render may have run, or would fail anywhere', () => {
    for (const [status, kind] of [
      [504, 'timeout'],
      [502, 'navigation_failed'],
      [500, 'internal'],
      [400, 'invalid_request'],
      [422, 'egress_refused'],
    ] as const) {
      expect(refusedBeforeStart(status, kind)).toBe(false);
    }
    expect(refusedBeforeStart(502, undefined)).toBe(false);
    expect(refusedBeforeStart(500, undefined)).toBe(false);
  });
});
