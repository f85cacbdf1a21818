// The exporter's metric state, kept once and read by both expositions
// (prom-client's text format and OpenTelemetry's MetricProducer).
//
// Counters are plain numbers in maps keyed by their label values. Histograms
// keep the kernel's log2 slots as they are: slot i of a tool's histogram
// holds values v (in microseconds, truncated) with 2^i <= v < 2^(i+1), so
// every value in it is below 2^(i+1) us, and the cumulative count up to slot
// i is exactly Prometheus' `le="2^(i+1) us in seconds"` bucket. Nothing is
// re-observed: a snapshot's slot counts are added to the series' slot counts.

/** Log2 slots kept per histogram: slot 26's bound is 2^27 us (134 s); later slots count only in +Inf. */
export const SLOTS = 27;

/** The `le` bounds in seconds: 2^(i+1) microseconds for slot i. */
export const BOUNDS: readonly number[] = Array.from({ length: SLOTS }, (_, i) => 2 ** (i + 1) / 1e6);

/** Label value for the command names beyond the comm limit. */
export const OTHER = 'other';

export interface CounterSeries {
  labels: string[];
  value: number;
}

export interface HistogramSeries {
  labels: string[];
  /** Per-slot counts (not cumulative); index SLOTS: beyond the last bound. */
  slots: Float64Array;
  count: number;
  /** Sum of the values, in seconds. */
  sum: number;
}

interface MetricBase {
  /** Prometheus name (counters end in _total). */
  name: string;
  help: string;
  labelNames: string[];
  /** OpenTelemetry unit ('s', 'By', '1'). */
  unit: string;
}

const keyOf = (labels: string[]) => labels.join('\u0000');

/** A series' labels as an object: { name: value }. */
export function labelObject(names: string[], values: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) o[names[i]!] = values[i]!;
  return o;
}

/** A monotonic counter; with commIndex, label `comm` is capped by the exporter's CommCap. */
export class Counter implements MetricBase {
  readonly kind = 'counter';
  readonly series = new Map<string, CounterSeries>();
  /** Keys whose comm is not yet admitted (folded at settle). */
  readonly pending = new Set<string>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: string[],
    readonly unit = '1',
    readonly cap?: CommCap,
  ) {
    this.commIndex = labelNames.indexOf('comm');
    cap?.counters.push(this);
  }
  readonly commIndex: number;

  inc(labels: string[], by = 1): void {
    if (this.cap && this.commIndex >= 0) {
      const comm = labels[this.commIndex]!;
      if (!this.cap.admitted(comm)) {
        if (this.cap.roomFor(comm)) this.cap.note(comm);
        else labels[this.commIndex] = OTHER;
      }
    }
    const key = keyOf(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else {
      this.series.set(key, { labels, value: by });
      if (this.cap && this.commIndex >= 0 && !this.cap.admitted(labels[this.commIndex]!)) this.pending.add(key);
    }
  }

  /** Sets a series to a value read elsewhere (a kernel counter). */
  set(labels: string[], value: number): void {
    const key = keyOf(labels);
    const s = this.series.get(key);
    if (s) s.value = value;
    else this.series.set(key, { labels, value });
  }
}

/** A histogram over the log2 slots. */
export class Log2Histogram implements MetricBase {
  readonly kind = 'histogram';
  readonly series = new Map<string, HistogramSeries>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: string[],
    readonly unit = 's',
  ) {}

  #get(labels: string[]): HistogramSeries {
    const key = keyOf(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, slots: new Float64Array(SLOTS + 1), count: 0, sum: 0 }));
    return s;
  }

  /** Adds a kernel histogram's slots (a period's, not cumulative) and its sum in seconds. */
  addSlots(labels: string[], buckets: readonly number[], sumSeconds: number): void {
    const s = this.#get(labels);
    let n = 0;
    for (let i = 0; i < buckets.length; i++) {
      const c = buckets[i]!;
      s.slots[i < SLOTS ? i : SLOTS]! += c;
      n += c;
    }
    s.count += n;
    s.sum += sumSeconds;
  }

  /** One value in microseconds (truncated), slotted as the kernel's ebpf_log2_slot() would. */
  observeUs(labels: string[], us: number): void {
    const s = this.#get(labels);
    const slot = us < 2 ? 0 : Math.floor(Math.log2(us));
    s.slots[slot < SLOTS ? slot : SLOTS]! += 1;
    s.count += 1;
    s.sum += us / 1e6;
  }
}

export type Metric = Counter | Log2Histogram;

/**
 * Bounds the `comm` label: at most `limit` command names get their own
 * series, the rest are counted under "other". Names wait between two reads
 * (scrapes or pushes); at each read the busiest waiting names (events summed
 * over every metric) take the free places and the rest fold into "other".
 * Once admitted a name keeps its series, so counters stay monotonic.
 */
export class CommCap {
  readonly counters: Counter[] = [];
  #admitted = new Set<string>();
  #waiting = new Set<string>();
  constructor(readonly limit: number) {}

  admitted(comm: string): boolean {
    return comm === OTHER || this.#admitted.has(comm);
  }
  /** Whether a new name may wait for admission (bounded: 4 × limit names wait at most). */
  roomFor(comm: string): boolean {
    return this.#admitted.size < this.limit && (this.#waiting.has(comm) || this.#waiting.size < 4 * this.limit);
  }
  note(comm: string): void {
    this.#waiting.add(comm);
  }

  /** Admits the busiest waiting names while places are free; folds the others into "other". */
  settle(): void {
    if (this.#waiting.size === 0) return;
    const tally = new Map<string, number>();
    for (const c of this.counters) {
      for (const key of c.pending) {
        const s = c.series.get(key)!;
        const comm = s.labels[c.commIndex]!;
        tally.set(comm, (tally.get(comm) ?? 0) + s.value);
      }
    }
    const order = [...tally].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (const [comm] of order) {
      if (this.#admitted.size >= this.limit) break;
      this.#admitted.add(comm);
    }
    for (const c of this.counters) {
      for (const key of c.pending) {
        const s = c.series.get(key)!;
        if (this.#admitted.has(s.labels[c.commIndex]!)) continue;
        c.series.delete(key);
        const labels = s.labels.slice();
        labels[c.commIndex] = OTHER;
        c.inc(labels, s.value);
      }
      c.pending.clear();
    }
    this.#waiting.clear();
  }
}
