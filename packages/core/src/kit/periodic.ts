// Interval and report tools (biolatency, memleak; next runqlat, hardirqs,
// profile...): the BPF program aggregates in maps, and user space takes a
// snapshot every interval, `count` times, plus a last partial one at close.
// Periodic is that handle: snapshots as an async iterable, on demand, and at
// close(); deadlines that do not drift; any interval Node can wait for.
// definePeriodicTool() makes one from a tool's declaration (its options,
// program and reader), as defineEventTool() does a Tracer; report tools with
// more to them (memleak: an async start, a process to follow) build their
// handle on a Periodic of their own.
import type { BpfObject } from '../bpf/object.js';
import { DoubleBufferedMap } from '../bpf/histmap.js';
import { UsageError } from '../errors.js';
import { track, untrack } from '../bpf/resources.js';
import { checkOptions, type OptionDefs, type OptionsOf } from './options.js';
import { loadProgram, type ProgramDef } from './program.js';
import { jsonEvent } from '../format/json.js';

/** Node timers fire at once past this; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Snapshots kept for a `for await` consumer that is not reading. */
const MAX_QUEUED = 64;

/**
 * Takes the snapshot of the period from `startNs` to `endNs` (CLOCK_MONOTONIC)
 * and begins a new one. `arg`: what snapshot() or close() was given (a
 * report's options); `closing`: the last one, taken by close().
 */
export type TakeSnapshot<S, A = undefined> = (startNs: bigint, endNs: bigint, arg: A | undefined, closing: boolean) => S;

export interface PeriodicOptions<S, A = undefined> {
  object: BpfObject;
  take: TakeSnapshot<S, A>;
  /** Snapshot every this many ms; none when undefined (snapshot() and close() only). */
  intervalMs?: number;
  /** Stop after this many interval snapshots. */
  count?: number;
  /**
   * Interval snapshots begin with the first `for await` (reports that cost
   * much to take: none is taken until someone reads them).
   */
  lazy?: boolean;
  /** Events seen but not counted (read while the object is open). */
  lost?: () => number;
  /** Runs before the object closes (detach extra resources). */
  onClose?: () => void;
}

/** Checks the interval options every periodic tool takes. */
export function checkInterval(intervalMs: unknown, count: unknown): void {
  const bad = (k: string, v: unknown) => new UsageError(`${k} must be a positive integer, got ${String(v)}`);
  if (intervalMs !== undefined && (typeof intervalMs !== 'number' || !Number.isSafeInteger(intervalMs) || intervalMs < 1)) throw bad('intervalMs', intervalMs);
  if (count !== undefined && (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1)) throw bad('count', count);
  if (count !== undefined && intervalMs === undefined) throw new UsageError('count needs intervalMs');
}

export class Periodic<S, A = undefined> implements AsyncIterable<S> {
  readonly object: BpfObject;
  #take: TakeSnapshot<S, A>;
  #lostFn: (() => number) | undefined;
  #onClose: (() => void) | undefined;
  /** CLOCK_MONOTONIC ns when tracing began (the zero of JSON's `elapsed`). */
  readonly startNs = process.hrtime.bigint();
  #periodStart = this.startNs;
  #closed = false;
  #lostAtClose = 0;
  #queue: S[] = [];
  #waiting: Array<(r: IteratorResult<S>) => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #intervalNs = 0n;
  #nextNs = 0n;
  #remaining: number;
  #error: unknown;

  constructor(opts: PeriodicOptions<S, A>) {
    checkInterval(opts.intervalMs, opts.count);
    this.object = opts.object;
    this.#take = opts.take;
    this.#lostFn = opts.lost;
    this.#onClose = opts.onClose;
    this.#remaining = opts.count ?? Infinity;
    if (opts.intervalMs !== undefined) {
      this.#intervalNs = BigInt(opts.intervalMs) * 1_000_000n;
      if (!opts.lazy) this.#start(this.#periodStart);
    }
    track(this);
  }

  /** Interval snapshots begin: the first one an interval after `fromNs`. */
  #start(fromNs: bigint): void {
    this.#nextNs = fromNs + this.#intervalNs;
    this.#arm();
  }

  // Deadlines are multiples of the interval from the start, so the time a
  // snapshot takes does not make later ones drift. When a timer fires late
  // (a busy event loop), the next deadline is a full interval away instead
  // of a short catch-up period.
  #arm(): void {
    const wait = this.#nextNs - process.hrtime.bigint();
    const ms = wait <= 0n ? 0 : Number((wait + 999_999n) / 1_000_000n);
    this.#timer = setTimeout(() => this.#tick(), Math.min(ms, MAX_TIMER_MS));
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    if (process.hrtime.bigint() < this.#nextNs) return this.#arm(); // a chained long wait
    let snap: S;
    try {
      snap = this.snapshot();
    } catch (err) {
      // The maps cannot be read (should not happen): end, rather than throw from a timer.
      this.#error = err;
      return this.#shutdown();
    }
    this.#push(snap);
    const now = process.hrtime.bigint();
    this.#nextNs += this.#intervalNs;
    if (this.#nextNs - now < this.#intervalNs / 2n) this.#nextNs = now + this.#intervalNs;
    if (--this.#remaining <= 0) this.#shutdown();
    else this.#arm();
  }

  #push(s: S): void {
    const w = this.#waiting.shift();
    if (w) return w({ value: s, done: false });
    this.#queue.push(s);
    if (this.#queue.length > MAX_QUEUED) this.#queue.shift();
  }

  /** Everything counted since the previous snapshot (or the start); begins a new period. Not queued for `for await`. */
  snapshot(arg?: A): S {
    return this.#snapshot(arg, false);
  }

  #snapshot(arg: A | undefined, closing: boolean): S {
    if (this.#closed) throw new UsageError(`${this.object.name} is closed`);
    const end = process.hrtime.bigint();
    // Snapshots serialize with plain JSON.stringify() (bigints as decimal strings).
    const snap = jsonEvent(this.#take(this.#periodStart, end, arg, closing));
    this.#periodStart = end;
    return snap;
  }

  /** Events seen but not counted. */
  lost(): number {
    if (this.#closed) return this.#lostAtClose;
    return this.#lostFn?.() ?? 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why interval snapshots stopped before `count`, if they did (undefined normally). */
  get error(): unknown {
    return this.#error;
  }

  #shutdown(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.#lostAtClose = this.#lostFn?.() ?? 0;
      this.#onClose?.();
    } finally {
      this.#closed = true;
      this.object.close();
      untrack(this);
      for (const w of this.#waiting.splice(0)) w({ value: undefined, done: true });
    }
  }

  /** Stops tracing and ends iteration. Returns the last, partial period's snapshot (undefined if already closed). Idempotent. */
  close(arg?: A): S | undefined {
    if (this.#closed) return undefined;
    let last: S | undefined;
    try {
      last = this.#snapshot(arg, true);
    } finally {
      this.#shutdown();
    }
    return last;
  }

  /** Stops tracing and ends iteration without a last snapshot. Idempotent. */
  stop(): void {
    this.#shutdown();
  }

  [Symbol.asyncIterator](): AsyncIterator<S> {
    if (this.#intervalNs > 0n && this.#nextNs === 0n && !this.#closed) this.#start(process.hrtime.bigint()); // lazy
    return {
      next: () => {
        const s = this.#queue.shift();
        if (s !== undefined) return Promise.resolve({ value: s, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiting.push(resolve));
      },
      // `break` out of for-await ends the iteration, not the tracing.
      return: async () => ({ value: undefined, done: true }),
    };
  }
}

/** Options every periodic tool takes besides its own. */
export interface IntervalOptions {
  /** Take a snapshot every this many milliseconds and yield it to `for await`. */
  intervalMs?: number;
  /** With intervalMs: stop (close) after this many snapshots. */
  count?: number;
}

export interface PeriodicToolDef<D extends OptionDefs, S, T = undefined> extends ProgramDef<OptionsOf<D> & IntervalOptions, T> {
  /** The options: CLI flag (or apiOption()), help and value type each. */
  options: D;
  /**
   * The pair of maps the programs write in turn (ebpf/double_buffer.h's
   * EBPF_CURRENT_MAP and its two maps), when this run has one: the kit
   * points the slot at the first map once the object is loaded and before
   * its programs attach (until then they have nowhere to count, and the
   * first events of a run would be lost), and gives it to the reader.
   */
  doubleBuffer?: (opts: OptionsOf<D>) => { outer: string; inner: [string, string] } | undefined;
  /**
   * Once loaded: what takes each snapshot (open the maps it reads here, once),
   * or that and what to stop before the object closes (a timer of its own).
   * `buffers`: the double buffer, made before attach (see doubleBuffer).
   */
  reader: (object: BpfObject, opts: OptionsOf<D>, buffers: DoubleBufferedMap | undefined) => TakeSnapshot<S> | { take: TakeSnapshot<S>; stop: () => void };
  /** Events seen but not counted (counters the BPF side keeps). */
  lost?: (object: BpfObject) => number;
}

export interface PeriodicTool<D extends OptionDefs, S, T = any> {
  readonly def: PeriodicToolDef<D, S, T>;
  /** Validates options, loads and attaches: the typed API. */
  start(opts?: OptionsOf<D> & IntervalOptions): Periodic<S>;
}

/** An interval tool (biolatency, runqlat, hardirqs...): its program and how a snapshot is read. */
export function definePeriodicTool<D extends OptionDefs, S, T = undefined>(def: PeriodicToolDef<D, S, T>): PeriodicTool<D, S, T> {
  return {
    def,
    start(opts: OptionsOf<D> & IntervalOptions = {}) {
      checkOptions(def.options, opts, ['intervalMs', 'count']);
      checkInterval(opts.intervalMs, opts.count);
      const pair = def.doubleBuffer?.(opts);
      let buffers: DoubleBufferedMap | undefined;
      const program: ProgramDef<OptionsOf<D> & IntervalOptions, T> = !pair
        ? def
        : {
            ...def,
            attach: (obj, o, t) => {
              buffers = new DoubleBufferedMap(obj, pair.outer, pair.inner);
              if (def.attach) def.attach(obj, o, t);
              else obj.attach();
            },
          };
      const object = loadProgram<OptionsOf<D> & IntervalOptions, T>(program, opts);
      try {
        const lost = def.lost;
        const r = def.reader(object, opts, buffers);
        const { take, stop } = typeof r === 'function' ? { take: r, stop: undefined } : r;
        return new Periodic({ object, take, intervalMs: opts.intervalMs, count: opts.count, lost: lost && (() => lost(object)), onClose: stop });
      } catch (err) {
        object.close();
        throw err;
      }
    },
  };
}

/** One log2 histogram of an interval tool (biolatency, runqlat). */
export interface Log2Histogram {
  /**
   * buckets[i]: the values v (in the snapshot's unit, truncated) with
   * floor(log2(v)) == i, i.e. 2^i <= v < 2^(i+1); 0 and 1 are in bucket 0.
   * Trailing empty buckets are left out.
   */
  buckets: number[];
  /** Values counted (the sum of buckets). */
  count: number;
  /** The values summed, in nanoseconds. */
  totalNs: number;
}

/** One period of an interval histogram tool: its histograms (H) in a unit (U). */
export interface HistogramSnapshot<H extends Log2Histogram, U extends string> {
  /** Wall-clock time the snapshot was taken. */
  time: Date;
  /** CLOCK_MONOTONIC nanoseconds (process.hrtime.bigint()) the period began and ended. */
  startNs: bigint;
  endNs: bigint;
  unit: U;
  /** Sorted; empty when nothing was counted. */
  histograms: H[];
  /** Values in all histograms. */
  count: number;
  /** Summed over all histograms, in nanoseconds. */
  totalNs: number;
}
