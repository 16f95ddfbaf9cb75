import type { SessionBackend } from '../session/backends/session-backend';
import { AppMetricsRegistry } from './app-metrics.registry';
import { SessionMetricsRecorder, TimedSessionBackend } from './session-metrics.recorder';

describe('TimedSessionBackend', () => {
  const failure = new Error('backend away');
  const inner = {
    get: jest.fn(async () => null),
    ping: jest.fn(async () => {
      throw failure;
    }),
  } as unknown as SessionBackend;

  /** A histogram's observation count (its `_count` sample), or a counter's value, for one operation. */
  async function sample(registry: AppMetricsRegistry, name: string, operation: string): Promise<number | undefined> {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
    const values = metric?.values as { value: number; labels: Record<string, unknown>; metricName?: string }[] | undefined;
    return values?.find((v) => v.labels.operation === operation && (v.metricName ?? `${name}_count`) === `${name}_count`)?.value;
  }

  it('passes each call through and times it by operation; a rejection is counted and rethrown', async () => {
    const registry = new AppMetricsRegistry();
    const timed = new TimedSessionBackend(inner, new SessionMetricsRecorder(registry));

    await expect(timed.get('t', 'id', 5)).resolves.toBeNull();
    expect(inner.get).toHaveBeenCalledWith('t', 'id', 5);
    await expect(timed.ping()).rejects.toBe(failure);

    const duration = 'riptide_session_backend_operation_duration_seconds';
    expect(await sample(registry, duration, 'get')).toBe(1);
    expect(await sample(registry, duration, 'ping')).toBe(1);
    const errors = 'riptide_session_backend_errors_total';
    expect(await sample(registry, errors, 'get')).toBe(0);
    expect(await sample(registry, errors, 'ping')).toBe(1);
  });
});
