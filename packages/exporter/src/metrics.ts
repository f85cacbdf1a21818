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

/** Label value for the command names (cgroups) beyond the comm (cgroup) limit. */
export const OTHER = 'other';

/** Label value for a cgroup removed before the exporter could name it. */
export const UNKNOWN = 'unknown';

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

/** A monotonic counter; a label named by one of its caps (comm, cgroup) is kept to that cap's bounded set of values. */
export class Counter implements MetricBase {
  readonly kind = 'counter';
  readonly series = new Map<string, CounterSeries>();
  /** Keys with a label value not yet admitted by its cap (relabelled at settle). */
  readonly pending = new Set<string>();
  /** The capped labels: which cap, at which index. */
  readonly caps: Array<{ cap: LabelCap; index: number }> = [];
  /** Index of `comm` (-1: none). */
  readonly commIndex: number;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: string[],
    readonly unit = '1',
    caps?: LabelCap | Array<LabelCap | undefined>,
  ) {
    this.commIndex = labelNames.indexOf('comm');
    for (const cap of [caps ?? []].flat()) {
      const index = cap ? labelNames.indexOf(cap.label) : -1;
      if (index < 0) continue;
      this.caps.push({ cap: cap!, index });
      cap!.counters.push(this);
    }
  }

  inc(labels: string[], by = 1): void {
    let waits = false;
    for (const { cap, index } of this.caps) {
      const v = labels[index]!;
      if (cap.admitted(v)) continue;
      if (cap.roomFor(v)) {
        cap.note(v);
        waits = true;
      } else labels[index] = OTHER;
    }
    const key = keyOf(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else {
      this.series.set(key, { labels, value: by });
      if (waits) this.pending.add(key);
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
 * Bounds a label (`comm`, `cgroup`): at most `limit` values get their own
 * series, the rest are counted under "other". Values wait between two reads
 * (scrapes or pushes); at each read the busiest waiting values (events summed
 * over every metric) take the free places and the rest fold into "other".
 * Once admitted a value keeps its series, so counters stay monotonic.
 *
 * `resolve`, when given, is asked once per read for a function that turns a
 * waiting value into its final one (the cgroup label waits as an id that had
 * no name yet, and becomes a path or "unknown"); `free` values are admitted
 * without taking a place.
 */
export class LabelCap {
  readonly counters: Counter[] = [];
  #admitted = new Set<string>();
  #waiting = new Set<string>();
  readonly #free: Set<string>;
  constructor(
    readonly label: string,
    readonly limit: number,
    opts: { free?: string[]; resolve?: (waiting: ReadonlySet<string>) => (value: string) => string } = {},
  ) {
    this.#free = new Set([OTHER, ...(opts.free ?? [])]);
    this.#resolve = opts.resolve;
  }
  readonly #resolve?: (waiting: ReadonlySet<string>) => (value: string) => string;

  admitted(v: string): boolean {
    return this.#admitted.has(v) || this.#free.has(v);
  }
  /** Whether a new value may wait for admission (bounded: 4 × limit values wait at most). */
  roomFor(v: string): boolean {
    return this.#admitted.size < this.limit && (this.#waiting.has(v) || this.#waiting.size < 4 * this.limit);
  }
  note(v: string): void {
    this.#waiting.add(v);
  }

  /** Admits the busiest waiting values while places are free; folds the others into "other". */
  settle(): void {
    if (this.#waiting.size === 0) return;
    const final = this.#resolve?.(this.#waiting) ?? ((v: string) => v);
    const tally = new Map<string, number>();
    for (const c of this.counters) {
      const index = c.caps.find((x) => x.cap === this)!.index;
      for (const key of c.pending) {
        const s = c.series.get(key)!;
        const v = final(s.labels[index]!);
        if (!this.admitted(v)) tally.set(v, (tally.get(v) ?? 0) + s.value);
      }
    }
    const order = [...tally].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    for (const [v] of order) {
      if (this.#admitted.size >= this.limit) break;
      this.#admitted.add(v);
    }
    this.#waiting.clear();
    for (const c of this.counters) {
      const index = c.caps.find((x) => x.cap === this)!.index;
      for (const key of [...c.pending]) {
        const s = c.series.get(key)!;
        const was = s.labels[index]!;
        let v = final(was);
        if (!this.admitted(v)) v = OTHER;
        if (v === was) continue;
        c.series.delete(key);
        c.pending.delete(key);
        const labels = s.labels.slice();
        labels[index] = v;
        c.inc(labels, s.value); // pending again only for a label of another cap, settled after this one
      }
    }
  }
}

/** Bounds the `comm` label (see LabelCap). */
export class CommCap extends LabelCap {
  constructor(limit: number) {
    super('comm', limit);
  }
}

/** Settles every cap, in order, then nothing waits: each capped label of every series is admitted or "other". */
export function settleCaps(caps: LabelCap[]): void {
  for (const cap of caps) cap.settle();
  for (const cap of caps) for (const c of cap.counters) c.pending.clear();
}
