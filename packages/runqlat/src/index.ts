// @ebpf/runqlat: run-queue (scheduler) latency histograms, built in the kernel.
//
//   import { runqlat } from '@ebpf/runqlat';
//   const rq = runqlat({ intervalMs: 1000, perProcess: true });
//   for await (const snap of rq) {
//     for (const h of snap.histograms) console.log(h.pid, h.comm, h.count, h.buckets);
//   }
//   // elsewhere: rq.snapshot() on demand, rq.close() to stop (returns what is left)
import { CumulativeMap, UsageError, log2Buckets } from '@ebpf/core';
import { cstring } from '@ebpf/core/decode';
import { containerOptions, type ContainerOptions, apiOption, definePeriodicTool, int, millisecondsOption, option, pid, timestampFlag, type HistogramSnapshot, type Log2Histogram, type Periodic } from '@ebpf/core/kit';
import { HIST_OFFSETS, KEYED_HIST_OFFSETS, MAX_SLOTS, PER_ALL, PER_PID, PER_PIDNS, PER_TID, TASK_COMM_LEN, type Config } from './runqlat.gen.js';

export interface RunqlatOptions extends ContainerOptions {
  /** -m: buckets in milliseconds (default microseconds). */
  milliseconds?: boolean;
  /** -P: one histogram per process. */
  perProcess?: boolean;
  /** -L: one histogram per thread. */
  perThread?: boolean;
  /** --pidnss: one histogram per PID namespace. */
  perPidns?: boolean;
  /** -p: only this process's threads, in the kernel. */
  pid?: number;
  /** Take a snapshot every this many milliseconds and yield it to `for await`. */
  intervalMs?: number;
  /** With intervalMs: stop (close) after this many snapshots. */
  count?: number;
  /** Keys per interval of -P/-L/--pidnss (default 10240); waits of more are not counted (see lost()). */
  maxKeys?: number;
  /**
   * Load the raw_tp programs instead of the tp_btf ones: the same counts,
   * without the kernel's BTF read at load (libbpf 1.1 reads and copies
   * /sys/kernel/btf/vmlinux for tp_btf, ~11 MiB resident for a moment),
   * at a probe read per task field on every context switch.
   */
  rawTracepoints?: boolean;
}

export type Unit = 'usecs' | 'msecs';

/** buckets: waits by length; count: waits counted; totalNs: their lengths summed. */
export interface Histogram extends Log2Histogram {
  /** perProcess: the process (tgid). */
  pid?: number;
  /** perThread: the thread. */
  tid?: number;
  /** perPidns: the PID namespace's inode number (as /proc/PID/ns/pid shows it). */
  pidns?: number;
  /** With a key: the name of the task whose wait first made the key in this period. */
  comm?: string;
}

/** One in all, or one per process, thread or namespace (sorted by it). */
export type Snapshot = HistogramSnapshot<Histogram, Unit>;

/**
 * A running runqlat: snapshots as an async iterable, on demand (snapshot()),
 * and at close(), which returns the last, partial period. lost(): waits seen
 * but not counted (see maxKeys; task storage the kernel could not give).
 */
export type Runqlat = Periodic<Snapshot>;

/** runqlat's flags, in BCC's order: the API's options (by their keys) and the display flag -T (cliOnly). */
export const options = {
  timestamp: timestampFlag,
  milliseconds: millisecondsOption,
  perProcess: option('-P, --pids', 'print a histogram per process ID'),
  perPidns: option('--pidnss', 'print a histogram per PID namespace'),
  perThread: option('-L, --tids', 'print a histogram per thread ID'),
  pid: option('-p, --pid <PID>', 'trace this PID only', pid),
  maxKeys: apiOption('keys per interval of -P/-L/--pidnss', int(1, 1 << 20)),
  rawTracepoints: apiOption('load the raw_tp programs (no kernel BTF read at load)'),
  ...containerOptions,
};

/** What the histograms are per: the program's PER_* and the key's name. */
function perOf(o: RunqlatOptions): { per: number; key?: 'pid' | 'tid' | 'pidns' } {
  if (o.perProcess) return { per: PER_PID, key: 'pid' };
  if (o.perThread) return { per: PER_TID, key: 'tid' };
  if (o.perPidns) return { per: PER_PIDNS, key: 'pidns' };
  return { per: PER_ALL };
}

/** One period's histograms from map entries (a struct hist, or a keyed_hist, at offset 0 of each value). */
function snapshotOf(entries: Array<[Buffer, Buffer]>, startNs: bigint, endNs: bigint, o: RunqlatOptions): Snapshot {
  const { key } = perOf(o);
  const histograms: Histogram[] = [];
  let count = 0;
  let totalNs = 0;
  for (const [k, v] of entries) {
    const h: Histogram = {
      buckets: log2Buckets(v, { slots: MAX_SLOTS }),
      count: Number(v.readBigUInt64LE(HIST_OFFSETS.count)),
      totalNs: Number(v.readBigUInt64LE(HIST_OFFSETS.total_ns)),
    };
    if (h.count === 0) continue;
    if (key) {
      h[key] = k.readUInt32LE(0);
      h.comm = cstring(new DataView(v.buffer, v.byteOffset, v.length), KEYED_HIST_OFFSETS.comm, TASK_COMM_LEN);
    }
    histograms.push(h);
    count += h.count;
    totalNs += h.totalNs;
  }
  if (key) histograms.sort((a, b) => a[key]! - b[key]!);
  return { time: new Date(), startNs, endNs, unit: o.milliseconds ? 'msecs' : 'usecs', histograms, count, totalNs };
}

const BTF_PROGRAMS = ['sched_wakeup', 'sched_wakeup_new', 'sched_switch'];
const RAW_PROGRAMS = BTF_PROGRAMS.map((p) => `${p}_raw`);

export const tool = definePeriodicTool({
  name: 'runqlat',
  object: new URL('./runqlat.bpf.o', import.meta.url),
  options,
  check: (o) => {
    if ([o.perProcess, o.perThread, o.perPidns].filter(Boolean).length > 1) throw new UsageError('can only use one of -P, -L and --pidnss');
  },
  knobs: (o) => ({ targ_tgid: o.pid ?? 0, targ_ms: !!o.milliseconds, targ_per: perOf(o).per }) satisfies Config,
  // One set of programs (see 5. in runqlat.bpf.c); the other stays unloaded.
  programs: (o) => (o.rawTracepoints ? RAW_PROGRAMS : BTF_PROGRAMS),
  // The keyed maps and start_raw are preallocated: one entry each when unused.
  maps: (o) => {
    const n = perOf(o).key ? (o.maxKeys ?? 10240) : 1;
    return { hist_a: n, hist_b: n, start_raw: o.rawTracepoints ? 10240 : 1 };
  },
  // -P/-L/--pidnss: the kit points `current` at a map before the programs
  // run: until it does, their waits have nowhere to go (the first ~100 ms of
  // a run were lost so).
  doubleBuffer: (o) => (perOf(o).key ? { outer: 'current', inner: ['hist_a', 'hist_b'] } : undefined),
  reader: (obj, o, maps) => {
    if (maps) return (startNs, endNs) => snapshotOf(maps.swap(), startNs, endNs, o);
    const all = new CumulativeMap(obj, 'hist_all');
    return (startNs, endNs) => snapshotOf(all.take(), startNs, endNs, o);
  },
  lost: (obj) => Number(obj.readGlobalInt('storage_failed') + obj.readGlobalInt('hists_full')),
});

/**
 * Starts tracing run-queue latency. Throws a UsageError for bad options
 * (before loading anything), a PreflightError when the machine cannot trace.
 */
export function runqlat(opts: RunqlatOptions = {}): Runqlat {
  return tool.start(opts);
}
