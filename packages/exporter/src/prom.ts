// prom-client exposition. prom-client's Histogram can only observe values
// one by one, so each metric is registered as a collector object of its own
// (what prom-client's registry calls a metric: name, help, type, get()),
// whose get() returns the series as they are: for a histogram, its
// cumulative `le` buckets summed from the kernel's log2 slots, `_sum` and
// `_count`. prom-client formats and escapes them.
//
// The text exposition goes through getForPromString(), as prom-client's own
// Histogram does, with its `sharedLabels`: the registry formats a
// sharedLabels object once and caches the text (a WeakMap keyed by the
// object). Each series keeps one labels object and its value objects from
// scrape to scrape (only the numbers change), so its labels are escaped and
// joined once in its life, not at every scrape and bucket, and a scrape
// allocates little besides prom-client's lines: less CPU and, with the
// CLI's small young generation, fewer collections. get() (getMetricsAsJSON)
// returns fresh objects with every label in `labels`.
import type { Registry } from 'prom-client';
import { BOUNDS, SLOTS, labelObject, type CounterSeries, type HistogramSeries, type Metric } from './metrics.js';

type Labels = Record<string, string | number>;
type Value = { value: number; labels: Labels; sharedLabels?: Labels; metricName?: string };

/** The `le` label values, as Go's strconv formats floats (what Prometheus prints). */
const LE = [...BOUNDS.map((b) => String(b)), '+Inf'];
const LE_LABELS: readonly Labels[] = LE.map((le) => Object.freeze({ le }));
const NONE: Labels = Object.freeze({});

/** A series' value objects for the text exposition, kept while the series lives. */
const kept = new WeakMap<CounterSeries | HistogramSeries, Value[]>();

function textValues(m: Metric): Value[] {
  const out: Value[] = [];
  if (m.kind === 'counter') {
    for (const s of m.series.values()) {
      let v = kept.get(s);
      if (!v) kept.set(s, (v = [{ value: 0, labels: NONE, sharedLabels: labelObject(m.labelNames, s.labels) }]));
      v[0]!.value = s.value;
      out.push(v[0]!);
    }
    return out;
  }
  for (const s of m.series.values()) {
    let v = kept.get(s);
    if (!v) {
      const shared = labelObject(m.labelNames, s.labels);
      v = LE_LABELS.map((labels) => ({ value: 0, labels, sharedLabels: shared, metricName: `${m.name}_bucket` }));
      v.push({ value: 0, labels: NONE, sharedLabels: shared, metricName: `${m.name}_sum` }, { value: 0, labels: NONE, sharedLabels: shared, metricName: `${m.name}_count` });
      kept.set(s, v);
    }
    let acc = 0;
    for (let i = 0; i <= SLOTS; i++) v[i]!.value = acc += s.slots[i]!;
    v[SLOTS + 1]!.value = s.sum;
    v[SLOTS + 2]!.value = s.count;
    for (const x of v) out.push(x);
  }
  return out;
}

function jsonValues(m: Metric): Value[] {
  const out: Value[] = [];
  if (m.kind === 'counter') {
    for (const s of m.series.values()) out.push({ value: s.value, labels: labelObject(m.labelNames, s.labels) });
    return out;
  }
  for (const s of m.series.values()) {
    const labels = labelObject(m.labelNames, s.labels);
    let acc = 0;
    for (let i = 0; i <= SLOTS; i++) out.push({ value: (acc += s.slots[i]!), labels: { ...labels, le: LE[i]! }, metricName: `${m.name}_bucket` });
    out.push({ value: s.sum, labels, metricName: `${m.name}_sum` }, { value: s.count, labels, metricName: `${m.name}_count` });
  }
  return out;
}

/** Registers every metric in `registry`; `refresh` runs first at each scrape. */
export function registerProm(registry: Registry, metrics: Metric[], refresh: () => void): void {
  for (const m of metrics) {
    const type = m.kind;
    const read = (values: (m: Metric) => Value[]) => {
      refresh();
      return { name: m.name, help: m.help, type, aggregator: 'sum' as const, values: values(m) };
    };
    const collector = {
      name: m.name,
      help: m.help,
      type,
      aggregator: 'sum' as const,
      get: async () => read(jsonValues),
      getForPromString: async () => read(textValues),
      reset: () => {},
    };
    registry.registerMetric(collector as never);
  }
}
