// @ebpf/biolatency: block I/O latency histograms, built in the kernel.
//
//   import { biolatency } from '@ebpf/biolatency';
//   const bio = biolatency({ intervalMs: 1000, perDisk: true });
//   for await (const snap of bio) {
//     for (const h of snap.histograms) console.log(h.disk?.name, h.count, h.buckets);
//   }
//   // elsewhere: bio.snapshot() on demand, bio.close() to stop (returns what is left)
import {
  PreflightError,
  checkTracepoints,
  decodeRequestFlags,
  diskOf,
  hasTracepoint,
  log2Buckets,
  resolveWholeDisk,
  type Disk,
  type RequestFlags,
} from '@ebpf/core';
import { apiOption, containerOptions, definePeriodicTool, type ContainerOptions, type HistogramSnapshot, int, type Log2Histogram, millisecondsOption, option, timestampFlag, wholeDisk, type Periodic } from '@ebpf/core/kit';
import { decodeHist, decodeHistKey, HIST_KEY_SIZE, HIST_SIZE, MAX_SLOTS, type Config } from './biolatency.gen.js';

/** A -F key's operation and flags, named (core's decodeRequestFlags; the codes come from ebpf/block.h). */
export type FlagSet = RequestFlags;
/** Names a -F code. */
export const decodeFlags: (code: number) => FlagSet = decodeRequestFlags;

export interface BiolatencyOptions extends ContainerOptions {
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
  /** -c: only I/O submitted by tasks in this cgroup (v2 directory path), or below it (also cgroupmap, mntnsmap: kit/container.ts). */
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

/** A disk: its name under /dev and its numbers (core's blockdev). */
export type { Disk };

/** buckets: I/Os by latency; count: I/Os counted; totalNs: their latencies summed. */
export interface Histogram extends Log2Histogram {
  /** With perDisk. */
  disk?: Disk;
  /** With perFlags. */
  flags?: FlagSet;
}

/** One per disk (perDisk), flag set (perFlags), or pair; one in all otherwise. */
export type Snapshot = HistogramSnapshot<Histogram, Unit>;

/**
 * A running biolatency: snapshots as an async iterable, on demand
 * (snapshot()), and at close(), which returns the last, partial period.
 * lost(): I/Os seen but not counted: more requests in flight than
 * maxInFlight, or a start the kernel's skipped hook calls left stale (see
 * the README).
 */
export type Biolatency = Periodic<Snapshot>;

/** Resolves -d: the disk's kernel dev_t. Throws a UsageError naming the problem. */
export const resolveDisk: (name: string) => number = resolveWholeDisk;

/** biolatency's flags, in BCC's order: the API's options (by their keys) and the display flags (cliOnly). */
export const options = {
  timestamp: timestampFlag,
  queued: option('-Q, --queued', 'include OS queued time in I/O time'),
  milliseconds: millisecondsOption,
  perDisk: option('-D, --disks', 'print a histogram per disk device'),
  perFlags: option('-F, --flags', 'print a histogram per set of I/O flags'),
  extension: option('-e, --extension', 'summarize average/total value', undefined, { cliOnly: true }),
  json: option('-j, --json', 'print one JSON object per histogram', undefined, { cliOnly: true }),
  disk: option('-d, --disk <DISK>', 'Trace this disk only', wholeDisk),
  // The kit's container filters (kit/container.ts), -c as libbpf-tools' biolatency spells --cgroup.
  ...containerOptions,
  cgroup: { ...containerOptions.cgroup, flags: '-c, --cgroup <PATH>', help: 'trace I/O submitted by tasks in this cgroup v2 directory (or below it) only' },
  maxInFlight: apiOption('requests timed at once', int(1, 1 << 24)),
  insertHook: apiOption('-Q from block_rq_insert'),
};

/** One period's histograms, from the retired map's entries. */
function snapshotOf(entries: Array<[Buffer, Buffer]>, startNs: bigint, endNs: bigint, o: BiolatencyOptions): Snapshot {
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
    if (o.perDisk) h.disk = diskOf(key.dev);
    if (o.perFlags) h.flags = decodeFlags(key.flags);
    // Operation first, then flags: Read before Write, Sync-Write beside Write.
    h.sortKey = [h.disk?.name ?? '', ((key.flags & 0xffff) << 16) | (key.flags >>> 16)];
    histograms.push(h);
    count += h.count;
    totalNs += h.totalNs;
  }
  histograms.sort((a, b) => (a.sortKey[0] < b.sortKey[0] ? -1 : a.sortKey[0] > b.sortKey[0] ? 1 : a.sortKey[1] - b.sortKey[1]));
  const unit: Unit = o.milliseconds ? 'msecs' : 'usecs';
  return { time: new Date(), startNs, endNs, unit, histograms: histograms.map(({ sortKey: _s, ...h }) => h), count, totalNs };
}

/** Whether a container filter is on: I/O is then timed from block_io_start, in the submitting task. */
const containerFilter = (o: ContainerOptions): boolean => o.cgroup !== undefined || o.cgroupmap !== undefined || o.mntnsmap !== undefined;

export const tool = definePeriodicTool({
  name: 'biolatency',
  object: new URL('./biolatency.bpf.o', import.meta.url),
  options,
  // Hooks only -Q and -c use (block_io_start exists from 6.5): chosen in target().
  optional: ['block_io_start', 'block_rq_insert', 'block_rq_merge'],
  target: (o) => {
    const haveIoStart = hasTracepoint('block_io_start');
    if (containerFilter(o) && !haveIoStart) {
      throw new PreflightError('no-tracepoint', 'the container filters need the block:block_io_start tracepoint (Linux 6.5 or later)');
    }
    const ioStart = haveIoStart && ((!!o.queued && !o.insertHook) || containerFilter(o));
    const insert = !!o.queued && !ioStart;
    if (insert) checkTracepoints(['block:block_rq_insert']);
    return { dev: o.disk !== undefined ? resolveDisk(o.disk) : 0, ioStart, insert };
  },
  knobs: (o, t) =>
    ({
      targ_queued: !!o.queued,
      targ_ms: !!o.milliseconds,
      targ_per_disk: !!o.perDisk,
      targ_per_flags: !!o.perFlags,
      filter_dev: o.disk !== undefined,
      targ_dev: t.dev,
      filter_cgroup: containerFilter(o),
    }) satisfies Config,
  maps: (o) => ({ start: o.maxInFlight ?? 10240 }),
  configure: (spec, o, t) => {
    spec.setAutoload('block_io_start', t.ioStart);
    spec.setAutoload('block_rq_insert', t.insert);
    // Only -Q and -c start clocks before a merge can happen.
    spec.setAutoload('block_rq_merge', !!o.queued || containerFilter(o));
  },
  // The kit points `current` at hist_a before the programs attach.
  doubleBuffer: () => ({ outer: 'current', inner: ['hist_a', 'hist_b'] }),
  reader: (_obj, o, maps) => (startNs, endNs) => snapshotOf(maps!.swap(), startNs, endNs, o),
  lost: (obj) => Number(obj.readGlobalInt('starts_full') + obj.readGlobalInt('starts_stale')),
});

/**
 * Starts tracing block I/O latency. Throws a UsageError for bad options
 * (before loading anything), a PreflightError when the machine cannot trace.
 */
export function biolatency(opts: BiolatencyOptions = {}): Biolatency {
  return tool.start(opts);
}
