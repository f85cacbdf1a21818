// OpenTelemetry exposition: a MetricProducer that hands the SDK the same
// series as data points (cumulative sums; histograms with explicit bounds
// and the kernel's per-slot counts), and an OTLP/HTTP (protobuf) push built from the
// SDK's PeriodicExportingMetricReader and OTLPMetricExporter.
//
// The SDK is loaded on first use (an exporter serving only Prometheus does
// not pay its memory): its CommonJS builds, through require.
import { createRequire } from 'node:module';
import type { CollectionResult, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { BOUNDS, labelObject, type Metric } from './metrics.js';

const require_ = createRequire(import.meta.url);
type Sdk = typeof import('@opentelemetry/sdk-metrics');
type Api = typeof import('@opentelemetry/api');
let sdk: { metrics: Sdk; api: Api; resources: typeof import('@opentelemetry/resources') } | undefined;
const load = () =>
  (sdk ??= {
    metrics: require_('@opentelemetry/sdk-metrics') as Sdk,
    api: require_('@opentelemetry/api') as Api,
    resources: require_('@opentelemetry/resources') as typeof import('@opentelemetry/resources'),
  });

const hr = (ms: number): [number, number] => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

/** OTel's names drop Prometheus' unit and _total suffixes: the unit field carries them. */
const otelName = (m: Metric) => m.name.replace(/_total$/, '');

/** The metrics as an OpenTelemetry MetricProducer (pass it in a MetricReader's `metricProducers`). */
export function metricProducer(metrics: Metric[], refresh: () => void): MetricProducer {
  const start = hr(Date.now());
  return {
    async collect(): Promise<CollectionResult> {
      const { metrics: otel, api, resources } = load();
      const { AggregationTemporality, DataPointType } = otel;
      const { ValueType } = api;
      const resource = resources.resourceFromAttributes({ 'service.name': 'ebpf-exporter' });
      refresh();
      const end = hr(Date.now());
      const data: MetricData[] = [];
      for (const m of metrics) {
        const descriptor = { name: otelName(m), description: m.help, unit: m.unit, valueType: m.kind === 'counter' ? ValueType.INT : ValueType.DOUBLE };
        if (m.kind === 'counter') {
          data.push({
            descriptor,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints: [...m.series.values()].map((s) => ({ startTime: start, endTime: end, attributes: labelObject(m.labelNames, s.labels), value: s.value })),
          });
        } else {
          data.push({
            descriptor,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints: [...m.series.values()].map((s) => ({
              startTime: start,
              endTime: end,
              attributes: labelObject(m.labelNames, s.labels),
              value: { buckets: { boundaries: [...BOUNDS], counts: [...s.slots] }, sum: s.sum, count: s.count },
            })),
          });
        }
      }
      return { resourceMetrics: { resource, scopeMetrics: [{ scope: { name: '@ebpf/exporter' }, metrics: data }] }, errors: [] };
    },
  };
}

export interface OtlpPush {
  /** A last push, then stop. */
  close(): Promise<void>;
}

/** Pushes the producer's metrics to an OTLP/HTTP (protobuf) endpoint every intervalMs. */
export async function startOtlp(
  producer: MetricProducer,
  url: string,
  intervalMs: number,
  failures?: { count(): void; warn(line: string): void },
): Promise<OtlpPush> {
  const { MeterProvider, PeriodicExportingMetricReader } = load().metrics;
  const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto');
  const exporter = new OTLPMetricExporter({ url });
  // The SDK drops a failed push silently (its diag logger is off): each
  // failure is counted, and said once on stderr until a push succeeds again.
  if (failures) {
    const send = exporter.export.bind(exporter);
    let failing = false;
    exporter.export = (metrics, done) =>
      send(metrics, (r) => {
        if (r.code !== 0) {
          failures.count();
          if (!failing) failures.warn(`OTLP push to ${url} failed: ${r.error?.message ?? 'unknown error'} (counted in ebpf_exporter_otlp_push_failures_total)`);
        } else if (failing) failures.warn(`OTLP push to ${url} works again`);
        failing = r.code !== 0;
        done(r);
      });
  }
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: Math.min(intervalMs, 10000),
    metricProducers: [producer],
  });
  // The provider owns the reader (collect() needs one); it has no instruments of its own.
  const provider = new MeterProvider({ readers: [reader] });
  return {
    async close() {
      await provider.forceFlush().catch(() => {});
      await provider.shutdown().catch(() => {});
    },
  };
}

/**
 * Registers the counters in an application's MeterProvider as observable
 * counters (read at each of its collections). OpenTelemetry's API has no
 * asynchronous histogram, and recording the kernel's slots one value at a
 * time would be re-observation: the histograms come through the
 * MetricProducer instead (`metricProducers: [exporter.producer]` in the
 * application's MetricReader).
 */
export function registerMeterProvider(provider: MeterProviderLike, metrics: Metric[], refresh: () => void): void {
  const { ValueType } = load().api;
  const meter = provider.getMeter('@ebpf/exporter');
  for (const m of metrics) {
    if (m.kind !== 'counter') continue;
    const counter = meter.createObservableCounter(otelName(m), { description: m.help, unit: m.unit, valueType: ValueType.INT });
    counter.addCallback((r) => {
      refresh();
      for (const s of m.series.values()) r.observe(s.value, labelObject(m.labelNames, s.labels));
    });
  }
}

/** What registerMeterProvider needs of a MeterProvider (the API's interface). */
export type MeterProviderLike = Pick<import('@opentelemetry/api').MeterProvider, 'getMeter'>;
