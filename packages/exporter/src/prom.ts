// prom-client exposition. prom-client's Histogram can only observe values
// one by one, so each metric is registered as a collector object of its own
// (what prom-client's registry calls a metric: name, help, type, get()),
// whose get() returns the series as they are: for a histogram, its
// cumulative `le` buckets summed from the kernel's log2 slots, `_sum` and
// `_count`. prom-client formats and escapes them.
import type { Registry } from 'prom-client';
import { BOUNDS, SLOTS, labelObject, type Metric } from './metrics.js';

type Value = { value: number; labels: Record<string, string | number>; metricName?: string };

/** The `le` label values, as Go's strconv formats floats (what Prometheus prints). */
const LE = [...BOUNDS.map((b) => String(b)), '+Inf'];

function valuesOf(m: Metric): Value[] {
  const out: Value[] = [];
  if (m.kind === 'counter') {
    for (const s of m.series.values()) out.push({ value: s.value, labels: labelObject(m.labelNames, s.labels) });
    return out;
  }
  const bucket = `${m.name}_bucket`;
  for (const s of m.series.values()) {
    const labels = labelObject(m.labelNames, s.labels);
    let acc = 0;
    for (let i = 0; i <= SLOTS; i++) {
      acc += s.slots[i]!;
      out.push({ value: acc, labels: { ...labels, le: LE[i]! }, metricName: bucket });
    }
    out.push({ value: s.sum, labels, metricName: `${m.name}_sum` });
    out.push({ value: s.count, labels, metricName: `${m.name}_count` });
  }
  return out;
}

/** Registers every metric in `registry`; `refresh` runs first at each scrape. */
export function registerProm(registry: Registry, metrics: Metric[], refresh: () => void): void {
  for (const m of metrics) {
    const type = m.kind;
    const collector = {
      name: m.name,
      help: m.help,
      type,
      aggregator: 'sum' as const,
      get: async () => {
        refresh();
        return { name: m.name, help: m.help, type, aggregator: 'sum' as const, values: valuesOf(m) };
      },
      reset: () => {},
    };
    registry.registerMetric(collector as never);
  }
}
