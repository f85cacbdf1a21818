// Interval and report tools (biolatency, memleak; next runqlat, hardirqs,
// profile...): the BPF program aggregates in maps, and user space takes a
// snapshot every interval, `count` times, plus a last partial one at close.
// Periodic is that handle: snapshots as an async iterable, on demand, and at
// close(); deadlines that do not drift; any interval Node can wait for.
import type { BpfObject } from '../bpf/object.js';
import { UsageError } from '../errors.js';
import { track, untrack } from '../bpf/resources.js';

/** Node timers fire at once past this; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Snapshots kept for a `for await` consumer that is not reading. */
const MAX_QUEUED = 64;

export interface PeriodicOptions<S> {
  object: BpfObject;
  /** Takes the snapshot of the period from `startNs` to `endNs` (CLOCK_MONOTONIC) and begins a new one. */
  take: (startNs: bigint, endNs: bigint) => S;
  /** Snapshot every this many ms; none when undefined (snapshot() and close() only). */
  intervalMs?: number;
  /** Stop after this many interval snapshots. */
  count?: number;
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

export class Periodic<S> implements AsyncIterable<S> {
  readonly object: BpfObject;
  #take: (startNs: bigint, endNs: bigint) => S;
  #lostFn: (() => number) | undefined;
  #onClose: (() => void) | undefined;
  #periodStart = process.hrtime.bigint();
  #closed = false;
  #lostAtClose = 0;
  #queue: S[] = [];
  #waiting: Array<(r: IteratorResult<S>) => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #intervalNs = 0n;
  #nextNs = 0n;
  #remaining: number;
  #error: unknown;

  constructor(opts: PeriodicOptions<S>) {
    checkInterval(opts.intervalMs, opts.count);
    this.object = opts.object;
    this.#take = opts.take;
    this.#lostFn = opts.lost;
    this.#onClose = opts.onClose;
    this.#remaining = opts.count ?? Infinity;
    if (opts.intervalMs !== undefined) {
      this.#intervalNs = BigInt(opts.intervalMs) * 1_000_000n;
      this.#nextNs = this.#periodStart + this.#intervalNs;
      this.#arm();
    }
    track(this);
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
  snapshot(): S {
    if (this.#closed) throw new UsageError(`${this.object.name} is closed`);
    const end = process.hrtime.bigint();
    const snap = this.#take(this.#periodStart, end);
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
  close(): S | undefined {
    if (this.#closed) return undefined;
    let last: S | undefined;
    try {
      last = this.snapshot();
    } finally {
      this.#shutdown();
    }
    return last;
  }

  [Symbol.asyncIterator](): AsyncIterator<S> {
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
