// @ebpf/syscount: system calls counted and timed per syscall or per process,
// in the kernel.
//
//   import { syscount } from '@ebpf/syscount';
//   const sc = syscount({ pid: 1234, latency: true, intervalMs: 1000 });
//   for await (const snap of sc) for (const r of snap.rows) console.log(r.name, r.count, r.totalNs);
//   // sc.snapshot() on demand, sc.close() to stop (returns the last, partial period)
import { constants } from 'node:os';
import { CumulativeMap, DoubleBufferedMap, UsageError, type BpfObject } from '@ebpf/core';
import { containerOptions, type ContainerOptions, custom, definePeriodicTool, option, pid, type Periodic } from '@ebpf/core/kit';
import { decodeProcTotals, decodeTotals, NR_NONE, PROC_TOTALS_SIZE, TOTALS_SIZE, type Config } from './syscount.gen.js';
import { SYSCALL_NAMES } from './syscalls.gen.js';

export { SYSCALL_NAMES };

export interface SyscountOptions extends ContainerOptions {
  /** -p: only this process. */
  pid?: number;
  /** -t: only this thread. */
  tid?: number;
  /** -x: only calls that failed (returned < 0). */
  failures?: boolean;
  /** -e: only calls that failed with this errno (a number or a name: 'ENOENT'). */
  errno?: number;
  /** -L: time the calls (totalNs). */
  latency?: boolean;
  /** -P: one row per process, not per syscall. */
  perProcess?: boolean;
  /** --syscall: only this syscall (its number; see syscallNumber()). */
  syscall?: number;
}

export interface Row {
  /**
   * Per syscall: its number and name ('[unknown: N]' past this build's
   * table; -1, '[unknown: -1]': exits with no number, rt_sigreturn's and
   * calls a seccomp filter or ptracer skipped).
   */
  nr?: number;
  name?: string;
  /** Per process (-P): its PID and the name it had when first seen in the period. */
  pid?: number;
  comm?: string;
  /** Calls in the period. */
  count: number;
  /** With latency: their time summed, in nanoseconds. */
  totalNs?: number;
}

export interface Snapshot {
  time: Date;
  /** CLOCK_MONOTONIC ns the period began and ended. */
  startNs: bigint;
  endNs: bigint;
  /** Every syscall or process with calls in the period, most calls (with latency: most time) first. */
  rows: Row[];
  /** The last snapshot (taken by close()). */
  final: boolean;
}

export type Syscount = Periodic<Snapshot>;

/** A syscall's name from its number (this kernel's x86_64 ABI), as BCC spells an unknown one. */
export function syscallName(nr: number): string {
  return SYSCALL_NAMES[nr] || `[unknown: ${nr === NR_NONE ? -1 : nr}]`;
}

/** A syscall's number from its name ('openat', 'sys_openat'); undefined if unknown. */
export function syscallNumber(name: string): number | undefined {
  const i = SYSCALL_NAMES.indexOf(name.replace(/^sys_/, ''));
  return i >= 0 ? i : undefined;
}

const errnos = constants.errno as Record<string, number>;

/** -e: 'ENOENT' or '2'. */
export const errnoType = custom(
  (t) => {
    const n = /^\d+$/.test(t) ? Number(t) : errnos[t.toUpperCase()];
    if (n === undefined || n < 1 || n > 4095) throw new UsageError(`unknown errno '${t}' (a number 1..4095 or a name such as ENOENT)`);
    return n;
  },
  (v, key) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 4095) throw new UsageError(`${key} must be an errno number 1..4095`);
    return v;
  },
);

/** --syscall: a name of this kernel's table (or its number in the API). */
export const syscallType = custom(
  (t) => {
    const n = syscallNumber(t);
    if (n === undefined) throw new UsageError(`unknown syscall '${t}' (see syscount -l)`);
    return n;
  },
  (v, key) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 1024) throw new UsageError(`${key} must be a syscall number 0..1023`);
    return v;
  },
);

export const options = {
  pid: option('-p, --pid <PID>', 'trace only this pid', pid),
  tid: option('-t, --tid <TID>', 'trace only this tid', pid),
  failures: option('-x, --failures', 'trace only failed syscalls (return < 0)'),
  errno: option('-e, --errno <ERRNO>', 'trace only syscalls that return this error (numeric or EPERM, etc.)', errnoType),
  latency: option('-L, --latency', 'collect syscall latency'),
  perProcess: option('-P, --process', 'count by process and not by syscall'),
  syscall: option('--syscall <SYSCALL>', 'trace this syscall only (use option -l to get all recognized syscalls)', syscallType),
  ...containerOptions,
};

/** Per-CPU slices summed: [count, total_ns] of a per-CPU value. */
function sum(slices: Buffer[], decode: typeof decodeTotals): [number, number] {
  let count = 0n;
  let ns = 0n;
  for (const s of slices) {
    const t = decode(new DataView(s.buffer, s.byteOffset, s.length), 0, s.length);
    count += t.count;
    ns += t.total_ns;
  }
  return [Number(count), Number(ns)];
}

/** Per syscall: what each array slot gained since the last reading. */
function syscallRows(map: CumulativeMap, latency: boolean): () => Row[] {
  return () =>
    map.take().flatMap(([k, v]): Row[] => {
      const slot = k.readUInt32LE(0);
      const [count, ns] = sum([v.subarray(0, TOTALS_SIZE)], decodeTotals);
      return count ? [{ nr: slot === NR_NONE ? -1 : slot, name: syscallName(slot), count, ...(latency ? { totalNs: ns } : {}) }] : [];
    });
}

/** Per process: the retired map's entries, per-CPU slices summed; the name from the slice of the CPU that inserted it. */
function processRows(maps: DoubleBufferedMap, latency: boolean): () => Row[] {
  return () =>
    maps.swap().flatMap(([k, v]): Row[] => {
      const slices = maps.active.perCpuValues(v).filter((x) => x.length === PROC_TOTALS_SIZE);
      const [count, ns] = sum(slices, decodeProcTotals);
      const comm = slices.map((x) => decodeProcTotals(new DataView(x.buffer, x.byteOffset, x.length), 0, x.length).comm).find((c) => c !== '');
      return count ? [{ pid: k.readUInt32LE(0), comm: comm ?? '', count, ...(latency ? { totalNs: ns } : {}) }] : [];
    });
}

const procMaps = new WeakMap<BpfObject, DoubleBufferedMap>();

export const tool = definePeriodicTool({
  name: 'syscount',
  object: new URL('./syscount.bpf.o', import.meta.url),
  options,
  // The clock at entry is read only with -L.
  programs: (o) => (o.latency ? ['sys_enter', 'sys_exit'] : ['sys_exit']),
  check: (o) => {
    if (o.pid !== undefined && o.tid !== undefined) throw new UsageError('-p and -t are mutually exclusive');
  },
  knobs: (o) =>
    ({
      filter_tgid: o.pid ?? 0,
      filter_tid: o.tid ?? 0,
      filter_failed: !!o.failures,
      filter_errno: o.errno ?? 0,
      filter_nr_on: o.syscall !== undefined,
      filter_nr: o.syscall ?? 0,
      targ_latency: !!o.latency,
      targ_per_process: !!o.perProcess,
    }) satisfies Config,
  // -P: the programs' map is chosen before they are attached, so no call
  // finds the slot empty.
  attach: (obj, o) => {
    if (o.perProcess) procMaps.set(obj, new DoubleBufferedMap(obj, 'current_procs', ['procs_a', 'procs_b']));
    obj.attach();
  },
  reader: (obj, o) => {
    const rows = o.perProcess ? processRows(procMaps.get(obj)!, !!o.latency) : syscallRows(new CumulativeMap(obj, 'syscalls'), !!o.latency);
    const order = (a: Row, b: Row) => (o.latency ? b.totalNs! - a.totalNs! : b.count - a.count);
    return (startNs, endNs, _arg, closing) => ({ time: new Date(), startNs, endNs, rows: rows().sort(order), final: closing });
  },
  lost: (obj) => Number(obj.readGlobalInt('bad_nr') + obj.readGlobalInt('procs_full')),
});

/** Starts counting. Throws a UsageError for bad options, a PreflightError when the machine cannot trace. */
export function syscount(opts: SyscountOptions & { intervalMs?: number; count?: number } = {}): Syscount {
  return tool.start(opts);
}
