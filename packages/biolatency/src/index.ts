// @ebpf/biolatency: block I/O latency histograms, built in the kernel.
//
//   import { biolatency } from '@ebpf/biolatency';
//   const bio = biolatency({ intervalMs: 1000, perDisk: true });
//   for await (const snap of bio) {
//     for (const h of snap.histograms) console.log(h.disk?.name, h.count, h.buckets);
//   }
//   // elsewhere: bio.snapshot() on demand, bio.close() to stop (returns what is left)
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import {
  DoubleBufferedMap,
  ObjectSpec,
  PreflightError,
  UsageError,
  blockDeviceName,
  findBlockDevice,
  fromKernelDev,
  hasTracepoint,
  kernelDev,
  log2Buckets,
  preflight,
  u32Key,
  type BpfObject,
} from '@ebpf/core';
import { decodeHist, decodeHistKey, HIST_KEY_SIZE, HIST_SIZE, MAX_SLOTS, type Config } from './biolatency.gen.js';
import { decodeFlags, type FlagSet } from './flags.js';

export { decodeFlags, type FlagSet } from './flags.js';

export interface BiolatencyOptions {
  /** -Q: include the time requests wait in the OS queue (from block_io_start, else block_rq_insert). */
  queued?: boolean;
  /** -m: buckets in milliseconds (default microseconds). */
  milliseconds?: boolean;
  /** -D: one histogram per disk. */
  perDisk?: boolean;
  /** -F: one histogram per operation and flag set (Sync-Write, ReadAhead-Read...). */
  perFlags?: boolean;
  /** -d: only this disk ("vda", "/dev/nvme0n1"). A partition is refused: requests belong to whole disks. */
  disk?: string;
  /** -c: only I/O submitted by tasks in this cgroup (v2 directory path), or below it. */
  cgroup?: string;
  /** Take a snapshot every this many milliseconds and yield it to `for await`. */
  intervalMs?: number;
  /** With intervalMs: stop (close) after this many snapshots. */
  count?: number;
  /** Requests timed at once (the `start` map; default 10240). Beyond it, I/Os are not counted (see lost()). */
  maxInFlight?: number;
  /**
   * -Q from block_rq_insert even where block_io_start exists: what kernels
   * before 6.5 get. For comparison and tests.
   */
  insertHook?: boolean;
}

export type Unit = 'usecs' | 'msecs';

export interface Disk {
  /** Name under /dev (vda, nvme0n1); "MAJ:MIN" if the device is gone, "<unknown>" for none. */
  name: string;
  major: number;
  minor: number;
}

export interface Histogram {
  /** With perDisk. */
  disk?: Disk;
  /** With perFlags. */
  flags?: FlagSet;
  /**
   * buckets[i]: I/Os whose latency v (in `unit`, truncated) has
   * floor(log2(v)) == i, i.e. 2^i <= v < 2^(i+1); 0 and 1 are in bucket 0.
   * Trailing empty buckets are left out.
   */
  buckets: number[];
  /** I/Os counted (the sum of buckets). */
  count: number;
  /** Their latencies summed, in nanoseconds. */
  totalNs: number;
}

export interface Snapshot {
  /** Wall-clock time the snapshot was taken. */
  time: Date;
  /** CLOCK_MONOTONIC nanoseconds (process.hrtime.bigint()) the period began and ended. */
  startNs: bigint;
  endNs: bigint;
  unit: Unit;
  /** One per disk (perDisk), flag set (perFlags), or pair; one in all otherwise. Empty with no I/O. Sorted. */
  histograms: Histogram[];
  /** I/Os in all histograms. */
  count: number;
  /** Latency summed over all histograms, in nanoseconds. */
  totalNs: number;
}

/** A running biolatency: snapshots as an async iterable, on demand, and at close(). */
export interface Biolatency extends AsyncIterable<Snapshot> {
  /** Everything counted since the previous snapshot (or the start); begins a new period. Not queued for `for await`. */
  snapshot(): Snapshot;
  /**
   * Stops tracing and ends iteration. Returns the last, partial period's
   * snapshot (undefined if already closed). Idempotent.
   */
  close(): Snapshot | undefined;
  readonly closed: boolean;
  /** Why interval snapshots stopped before `count`, if they did (undefined normally). */
  readonly error: unknown;
  /**
   * I/Os seen but not counted: more requests in flight than maxInFlight, or
   * a start the kernel's skipped hook calls left stale (see the README).
   */
  lost(): number;
  /** The loaded BPF object (maps, programs), for the curious. */
  readonly object: BpfObject;
}

/** Where the compiled BPF object lives: next to this file once built; in ../dist from source. */
export const objectPath = ((): URL => {
  const built = new URL('./biolatency.bpf.o', import.meta.url);
  const fromSource = new URL('../dist/biolatency.bpf.o', import.meta.url);
  return existsSync(built) || !existsSync(fromSource) ? built : fromSource;
})();

const MAX_TIMER_MS = 0x7fffffff; // setTimeout's limit: longer waits are chained
const MAX_QUEUED = 4096; // snapshots kept for a `for await` consumer that is not reading

function checkInt(what: string, v: number | undefined, min: number, max: number): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < min || v > max)) {
    throw new UsageError(`${what} must be an integer from ${min} to ${max}, got ${v}`);
  }
}

/** Resolves -d: the disk's kernel dev_t. Throws a UsageError naming the problem. */
export function resolveDisk(name: string): number {
  const dev = findBlockDevice(name);
  if (!dev) throw new UsageError(`no such disk '${name}'`);
  if (dev.partition) {
    throw new UsageError(`'${name}' is a partition of ${dev.disk}; block requests are counted per disk: use -d ${dev.disk}`);
  }
  return kernelDev(dev);
}

function checkCgroup(path: string): void {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new UsageError(`no such cgroup '${path}'`);
  }
  if (!isDir || !existsSync(`${path}/cgroup.controllers`)) {
    throw new UsageError(`'${path}' is not a cgroup v2 directory (e.g. /sys/fs/cgroup/unified/... or /sys/fs/cgroup/...)`);
  }
}

/** The disk for a kernel dev_t, named as /dev names it. */
function diskOf(dev: number): Disk {
  const d = fromKernelDev(dev);
  if (dev === 0) return { name: '<unknown>', ...d };
  return { name: blockDeviceName(d) ?? `${d.major}:${d.minor}`, ...d };
}

/**
 * Starts tracing block I/O latency. Throws a UsageError for bad options
 * (before loading anything), a PreflightError when the machine cannot trace.
 */
export function biolatency(opts: BiolatencyOptions = {}): Biolatency {
  checkInt('intervalMs', opts.intervalMs, 1, Number.MAX_SAFE_INTEGER);
  checkInt('count', opts.count, 1, Number.MAX_SAFE_INTEGER);
  checkInt('maxInFlight', opts.maxInFlight, 1, 1 << 24);
  if (opts.count !== undefined && opts.intervalMs === undefined) throw new UsageError('count needs intervalMs');
  const targDev = opts.disk !== undefined ? resolveDisk(opts.disk) : 0;
  if (opts.cgroup !== undefined) checkCgroup(opts.cgroup);

  const needsTracepoints = ['block:block_rq_issue', 'block:block_rq_complete'];
  preflight({ tracepoints: needsTracepoints });
  const haveIoStart = hasTracepoint('block:block_io_start');
  if (opts.cgroup !== undefined && !haveIoStart) {
    throw new PreflightError('no-tracepoint', 'the cgroup filter needs the block:block_io_start tracepoint (Linux 6.5 or later)');
  }
  const queued = !!opts.queued;
  const useIoStart = haveIoStart && ((queued && !opts.insertHook) || opts.cgroup !== undefined);
  const useInsert = queued && !useIoStart;
  if (useInsert) preflight({ tracepoints: ['block:block_rq_insert'] });

  const spec = ObjectSpec.fromFile(objectPath, 'biolatency');
  try {
    const config: Config = {
      targ_queued: queued,
      targ_ms: !!opts.milliseconds,
      targ_per_disk: !!opts.perDisk,
      targ_per_flags: !!opts.perFlags,
      filter_dev: opts.disk !== undefined,
      targ_dev: targDev,
      filter_cgroup: opts.cgroup !== undefined,
    };
    spec.setConfig({ ...config });
    spec.setMaxEntries('start', opts.maxInFlight ?? 10240);
    spec.setAutoload('block_io_start', useIoStart);
    spec.setAutoload('block_rq_insert', useInsert);
    // Only -Q and -c start clocks before a merge can happen.
    spec.setAutoload('block_rq_merge', queued || opts.cgroup !== undefined);
  } catch (err) {
    spec.close();
    throw err;
  }
  const obj = spec.load();
  try {
    const maps = new DoubleBufferedMap(obj, 'current', ['hist_a', 'hist_b']);
    if (opts.cgroup !== undefined) {
      const fd = openSync(opts.cgroup, 'r');
      try {
        const v = Buffer.alloc(4);
        v.writeUInt32LE(fd);
        obj.map('cgroup_filter').update(u32Key(0), v);
      } finally {
        closeSync(fd);
      }
    }
    obj.attach();
    return new Handle(obj, maps, opts);
  } catch (err) {
    obj.close();
    throw err;
  }
}

class Handle implements Biolatency {
  readonly object: BpfObject;
  #maps: DoubleBufferedMap;
  #unit: Unit;
  #perDisk: boolean;
  #perFlags: boolean;
  #periodStart = process.hrtime.bigint();
  #closed = false;
  #lostAtClose = 0;
  #queue: Snapshot[] = [];
  #waiting: Array<(r: IteratorResult<Snapshot>) => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #intervalNs = 0n;
  #nextNs = 0n;
  #remaining: number;
  #error: unknown;

  constructor(obj: BpfObject, maps: DoubleBufferedMap, opts: BiolatencyOptions) {
    this.object = obj;
    this.#maps = maps;
    this.#unit = opts.milliseconds ? 'msecs' : 'usecs';
    this.#perDisk = !!opts.perDisk;
    this.#perFlags = !!opts.perFlags;
    this.#remaining = opts.count ?? Infinity;
    if (opts.intervalMs !== undefined) {
      this.#intervalNs = BigInt(opts.intervalMs) * 1_000_000n;
      this.#nextNs = this.#periodStart + this.#intervalNs;
      this.#arm();
    }
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
    let snap: Snapshot;
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

  #push(s: Snapshot): void {
    const w = this.#waiting.shift();
    if (w) return w({ value: s, done: false });
    this.#queue.push(s);
    if (this.#queue.length > MAX_QUEUED) this.#queue.shift();
  }

  snapshot(): Snapshot {
    if (this.#closed) throw new UsageError('biolatency is closed');
    const entries = this.#maps.swap();
    const end = process.hrtime.bigint();
    const snap = this.#build(entries, this.#periodStart, end);
    this.#periodStart = end;
    return snap;
  }

  #build(entries: Array<[Buffer, Buffer]>, startNs: bigint, endNs: bigint): Snapshot {
    const histograms: Array<Histogram & { sortKey: [string, number] }> = [];
    let count = 0;
    let totalNs = 0;
    for (const [k, v] of entries) {
      if (k.length !== HIST_KEY_SIZE || v.length !== HIST_SIZE) continue;
      const key = decodeHistKey(new DataView(k.buffer, k.byteOffset, k.length), 0, k.length);
      const val = decodeHist(new DataView(v.buffer, v.byteOffset, v.length), 0, v.length);
      const h: Histogram & { sortKey: [string, number] } = {
        buckets: log2Buckets(v, { slots: MAX_SLOTS }),
        count: Number(val.count),
        totalNs: Number(val.total_ns),
        sortKey: ['', 0],
      };
      if (h.count === 0) continue;
      if (this.#perDisk) h.disk = diskOf(key.dev);
      if (this.#perFlags) h.flags = decodeFlags(key.flags);
      // Operation first, then flags: Read before Write, Sync-Write beside Write.
      h.sortKey = [h.disk?.name ?? '', ((key.flags & 0xffff) << 16) | (key.flags >>> 16)];
      histograms.push(h);
      count += h.count;
      totalNs += h.totalNs;
    }
    histograms.sort((a, b) =>
      a.sortKey[0] < b.sortKey[0] ? -1 : a.sortKey[0] > b.sortKey[0] ? 1 : a.sortKey[1] - b.sortKey[1],
    );
    return {
      time: new Date(),
      startNs,
      endNs,
      unit: this.#unit,
      histograms: histograms.map(({ sortKey: _s, ...h }) => h),
      count,
      totalNs,
    };
  }

  lost(): number {
    return this.#closed ? this.#lostAtClose : this.#readLost();
  }

  #readLost(): number {
    return Number(this.object.readGlobalInt('starts_full') + this.object.readGlobalInt('starts_stale'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  #shutdown(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.#lostAtClose = this.#readLost();
    } finally {
      this.#closed = true;
      this.object.close();
      for (const w of this.#waiting.splice(0)) w({ value: undefined, done: true });
    }
  }

  /** Why interval snapshots stopped early, if they did (undefined normally). */
  get error(): unknown {
    return this.#error;
  }

  close(): Snapshot | undefined {
    if (this.#closed) return undefined;
    let last: Snapshot | undefined;
    try {
      last = this.snapshot();
    } finally {
      this.#shutdown();
    }
    return last;
  }

  [Symbol.asyncIterator](): AsyncIterator<Snapshot> {
    return {
      next: () => {
        const s = this.#queue.shift();
        if (s) return Promise.resolve({ value: s, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiting.push(resolve));
      },
      // `break` out of for-await ends the iteration, not the tracing.
      return: async () => ({ value: undefined, done: true }),
    };
  }
}
