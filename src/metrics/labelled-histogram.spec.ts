import { Histogram, Registry } from 'prom-client';
import { LabelledHistogram } from './labelled-histogram';

describe('LabelledHistogram', () => {
  const buckets = [0.0001, 0.001, 0.01, 0.1, 0.5, 1];
  const options = { name: 'op_seconds', help: 'Duration "of" ops\nby op.', buckets };
  const observations: [string, number][] = [
    ['get', 0.00005],
    ['get', 0.0001], // on a bound: counted in that bucket (le is "at most")
    ['get', 0.003],
    ['set', 0.7],
    ['get', 2.5], // above every bound: +Inf only
    ['set', 0.0009999],
    ['get', 0],
  ];

  /** The exposition text of ours and of prom-client's Histogram, after the same observations. */
  async function both(labels: string[], observed: [string, number][]) {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new LabelledHistogram({ ...options, labelName: 'operation', registers: [ours] });
    const reference = new Histogram({ ...options, labelNames: ['operation'], registers: [theirs] });
    for (const label of labels) {
      fast.labels(label);
      reference.zero({ operation: label });
    }
    for (const [label, value] of observed) {
      fast.labels(label).observe(value);
      reference.labels({ operation: label }).observe(value);
    }
    return { ours: await ours.metrics(), theirs: await theirs.metrics(), fast, oursRegistry: ours };
  }

  it('exposes the same text as a prom-client Histogram fed the same observations', async () => {
    const { ours, theirs } = await both(['get', 'set', 'idle'], observations);
    expect(ours).toBe(theirs);
    expect(ours).toContain('op_seconds_bucket{le="0.0001",operation="get"} 3');
    expect(ours).toContain('op_seconds_bucket{le="+Inf",operation="get"} 5');
    expect(ours).toContain('op_seconds_count{operation="idle"} 0');
  });

  it('resets to zero with its registry, its series still exposed', async () => {
    const { fast, ours: before, oursRegistry } = await both(['get', 'set'], observations);
    expect(before).toContain('op_seconds_sum{operation="set"} 0.7009999');
    oursRegistry.resetMetrics();
    expect(fast.labels('get').count).toBe(0);
    const after = await oursRegistry.metrics();
    expect(after).toContain('op_seconds_bucket{le="+Inf",operation="get"} 0');
    expect(after).toContain('op_seconds_sum{operation="set"} 0');
  });
});
