// @ebpf/offcputime: how long threads were blocked (off-CPU), by stack, as
// typed reports.
//
//   import { offcputime } from '@ebpf/offcputime';
//   const off = offcputime({ pid: 1234 });
//   // ... later:
//   const report = off.close()!;      // or off.snapshot(), or for await with intervalMs
//   for (const s of report.stacks) console.log(s.comm, s.totalNs, s.userFrames?.map((f) => f.name));
//
// Totals are summed in the kernel on every context switch (sched_switch);
// user space reads them, with their stacks, only when a report is taken.
import { UsageError, processAlive, u64Key, type BpfObject } from '@ebpf/core';
import { apiOption, containerOptions, type ContainerOptions, checkInterval, checkOptions, definePeriodicTool, int, option, pid, type IntervalOptions, type Periodic } from '@ebpf/core/kit';
import { Demangler, KernelSymbolizer, ProcessSymbols, resolveStacks, type Frame } from '@ebpf/core/symbolize';
import { EBPF_USTACK_OFFSETS as STACK_OFFSETS, MAX_STACK_DEPTH, STACK_MISSED, STACK_NONE, STACK_SKIPPED, decodeOffcpuKey, type Config } from './offcputime.gen.js';

export type { Frame } from '@ebpf/core/symbolize';

export interface OffcputimeOptions extends IntervalOptions, ContainerOptions {
  /** -p: this process only (in the kernel). */
  pid?: number;
  /** -t: this thread only. */
  tid?: number;
  /** -u: user threads only (no kernel threads). */
  userThreadsOnly?: boolean;
  /** -k: kernel threads only. */
  kernelThreadsOnly?: boolean;
  /** -U: user stacks only (no kernel stacks walked). */
  userStacksOnly?: boolean;
  /** -K: kernel stacks only (no user stacks walked). */
  kernelStacksOnly?: boolean;
  /** -m: blocks shorter than this many microseconds are not counted (default 1). */
  minBlockUs?: number;
  /** -M: blocks longer than this many microseconds are not counted (default: no limit). */
  maxBlockUs?: number;
  /** --state: only blocks that began in a task state with one of these bits (0: preempted, TASK_RUNNING). */
  state?: number;
  /** --stack-storage-size: distinct stacks stored (default 1024). */
  stackStorageSize?: number;
  /** Distinct (thread, stacks, comm) totals kept (default 10240, as BCC). */
  maxKeys?: number;
}

/** One total: a thread, the stacks it blocked in, its comm. */
export interface OffcpuStack {
  /** The thread id (BCC prints it as "pid"). */
  pid: number;
  /** Its process. */
  tgid: number;
  comm: string;
  /** Off-CPU nanoseconds, summed. */
  totalNs: number;
  /** Innermost first; undefined with userStacksOnly; [] when there is none or it was missed. */
  kernelFrames?: Frame[];
  /** Innermost first; undefined with kernelStacksOnly; [] for kernel threads or when missed. */
  userFrames?: Frame[];
  /** Ids in the stack map (hashes of the frames); 0: there is none, 1: not collected, 2: missed. */
  kernelStackId: bigint;
  userStackId: bigint;
  /** The stack could not be stored (BCC: "[Missed Kernel Stack]" / "[Missed User Stack]"). */
  kernelMissed: boolean;
  userMissed: boolean;
}

export interface Report {
  time: Date;
  /** CLOCK_MONOTONIC ns of the period (process.hrtime.bigint()). */
  startNs: bigint;
  endNs: bigint;
  /** Smallest total first, as BCC prints them. */
  stacks: OffcpuStack[];
  /** Off-CPU nanoseconds over every stack. */
  totalNs: number;
  /** Stacks that could not be stored (BCC's "stack traces lost"): the stack map was full, a larger stackStorageSize helps. */
  missedStacks: number;
  /** Blocks not counted in this period: the totals map was full (maxKeys). */
  dropped: number;
}

export type Offcputime = Periodic<Report>;

const micros = int(1, Number.MAX_SAFE_INTEGER);
const [NONE, SKIPPED, MISSED] = [BigInt(STACK_NONE), BigInt(STACK_SKIPPED), BigInt(STACK_MISSED)];

/** offcputime's options, in BCC's order: the API's keys, with their CLI flags. */
export const options = {
  pid: option('-p, --pid <PID>', 'trace this PID only', pid, { conflicts: ['tid', 'userThreadsOnly', 'kernelThreadsOnly'] }),
  tid: option('-t, --tid <TID>', 'trace this TID only', pid, { conflicts: ['userThreadsOnly', 'kernelThreadsOnly'] }),
  userThreadsOnly: option('-u, --user-threads-only', 'user threads only (no kernel threads)', undefined, { conflicts: ['kernelThreadsOnly'] }),
  kernelThreadsOnly: option('-k, --kernel-threads-only', 'kernel threads only (no user threads)'),
  userStacksOnly: option('-U, --user-stacks-only', 'show stacks from user space only (no kernel space stacks)', undefined, { conflicts: ['kernelStacksOnly'] }),
  kernelStacksOnly: option('-K, --kernel-stacks-only', 'show stacks from kernel space only (no user space stacks)'),
  stackStorageSize: option('--stack-storage-size <STACK_STORAGE_SIZE>', 'the number of unique stack traces that can be stored and displayed', int(1, 1 << 20), { default: 1024 }),
  minBlockUs: option('-m, --min-block-time <MIN_BLOCK_TIME>', 'the amount of time in microseconds over which we store traces', micros, { default: 1 }),
  maxBlockUs: option('-M, --max-block-time <MAX_BLOCK_TIME>', 'the amount of time in microseconds under which we store traces (default U64_MAX)', micros),
  state: option('--state <STATE>', 'filter on this thread state bitmask (eg, 2 == TASK_UNINTERRUPTIBLE) see include/linux/sched.h', int(0, 0xffffffff)),
  maxKeys: apiOption('totals kept at most', int(1, 1 << 24)),
  ...containerOptions,
};

/** Checks the options as offcputime() does first: a UsageError naming what is wrong. */
export function check(o: OffcputimeOptions): void {
  checkOptions(options, o, ['intervalMs', 'count']);
  checkInterval(o.intervalMs, o.count);
  const threads = [o.pid !== undefined, o.tid !== undefined, !!o.userThreadsOnly, !!o.kernelThreadsOnly].filter(Boolean).length;
  if (threads > 1) throw new UsageError('pid, tid, userThreadsOnly and kernelThreadsOnly exclude each other');
  if (o.userStacksOnly && o.kernelStacksOnly) throw new UsageError('userStacksOnly and kernelStacksOnly exclude each other');
  if (o.kernelThreadsOnly && o.userStacksOnly) throw new UsageError("Displaying user stacks for kernel threads doesn't make sense.");
  if (o.minBlockUs !== undefined && o.maxBlockUs !== undefined && o.minBlockUs > o.maxBlockUs) throw new UsageError('the minimum block time (-m) is above the maximum (-M)');
}

export const tool = definePeriodicTool({
  name: 'offcputime',
  options,
  object: new URL('./offcputime.bpf.o', import.meta.url),
  check,
  knobs: (o) =>
    ({
      targ_tgid: o.pid ?? 0,
      targ_tid: o.tid ?? 0,
      user_threads_only: !!o.userThreadsOnly,
      kernel_threads_only: !!o.kernelThreadsOnly,
      user_stacks: !o.kernelStacksOnly,
      kernel_stacks: !o.userStacksOnly,
      filter_state: o.state !== undefined,
      targ_state: o.state ?? 0,
      min_block_ns: BigInt(o.minBlockUs ?? 1) * 1000n,
      // A block of d ns counts as floor(d / 1000) µs (BCC): -M N keeps up to N µs + 999 ns.
      max_block_ns: o.maxBlockUs === undefined ? (1n << 64n) - 1n : BigInt(o.maxBlockUs) * 1000n + 999n,
    }) satisfies Config,
  maps: (o) => ({ stacks: o.stackStorageSize ?? 1024, counts: o.maxKeys ?? 10240 }),
  reader,
});

// The kernel stack is walked from inside the BPF program: its own frames and
// the tracepoint's come first, and are not where the thread blocked.
const TRACING_FRAME = /^(bpf_prog_|bpf_trampoline_|bpf_trace_run\d|__bpf_trace_|__traceiter_)/;

/** Reads reports from the loaded object: stacks symbolized, processes' symbols kept while they run. */
function reader(obj: BpfObject, o: OffcputimeOptions): { take: (startNs: bigint, endNs: bigint) => Report; stop: () => void } {
  const counts = obj.map('counts');
  const stackMap = obj.map('stacks');
  const kernel = new KernelSymbolizer();
  kernel.load(); // now that the program is loaded: its own frames have names, to be left out
  const demangler = new Demangler();
  const procs = new Map<number, ProcessSymbols>();
  const symbolsOf = (tgid: number) => procs.get(tgid) ?? procs.set(tgid, new ProcessSymbols(tgid)).get(tgid)!;
  // -p: keep a copy of the process's mappings, at most a second old, so a report after it exited still names its functions.
  const poll = o.pid !== undefined ? setInterval(() => symbolsOf(o.pid!).snapshot(), 1000).unref() : undefined;
  if (o.pid !== undefined) symbolsOf(o.pid);
  let droppedBefore = 0n;

  const take = (startNs: bigint, endNs: bigint): Report => {
    const time = new Date();
    const ips = new Map<bigint, bigint[] | undefined>();
    const stackOf = (id: bigint): bigint[] | undefined => {
      if (!ips.has(id)) {
        const v = stackMap.lookup(u64Key(id));
        const nr = v ? Math.min(Number(v.readBigUInt64LE(STACK_OFFSETS.nr)), MAX_STACK_DEPTH) : 0;
        ips.set(id, v && Array.from({ length: nr }, (_, i) => v.readBigUInt64LE(STACK_OFFSETS.ips + 8 * i)));
      }
      return ips.get(id);
    };
    const rows: Array<{ s: OffcpuStack; k?: bigint[]; u?: bigint[] }> = [];
    let missedStacks = 0;
    let totalNs = 0;
    // One side of a key: its addresses; [] when there is none or it was
    // missed; undefined when not collected.
    const side = (id: bigint, s: OffcpuStack, missed: 'kernelMissed' | 'userMissed'): bigint[] | undefined => {
      if (id === SKIPPED) return undefined;
      if (id === NONE) return [];
      const st = id === MISSED ? undefined : stackOf(id);
      if (!st) {
        missedStacks++;
        s[missed] = true;
      }
      return st ?? [];
    };
    for (const [k, v] of counts.drain(4096)) {
      const key = decodeOffcpuKey(new DataView(k.buffer, k.byteOffset, k.length), 0, k.length);
      const s: OffcpuStack = { pid: key.pid, tgid: key.tgid, comm: key.comm, totalNs: Number(v.readBigUInt64LE(0)), kernelStackId: key.kern_stack_id, userStackId: key.user_stack_id, kernelMissed: false, userMissed: false };
      rows.push({ s, k: side(key.kern_stack_id, s, 'kernelMissed'), u: side(key.user_stack_id, s, 'userMissed') });
      totalNs += s.totalNs;
    }
    // Kernel stacks all at once; user stacks by process, with its symbols.
    const withK = rows.filter((r) => r.k);
    resolveStacks(kernel, withK.map((r) => r.k!), demangler).forEach((fs, i) => {
      let skip = 0;
      while (skip < fs.length && TRACING_FRAME.test(fs[skip]!.name ?? '')) skip++;
      withK[i]!.s.kernelFrames = fs.slice(skip);
    });
    const byTgid = new Map<number, typeof rows>();
    for (const r of rows) if (r.u) byTgid.get(r.s.tgid)?.push(r) ?? byTgid.set(r.s.tgid, [r]);
    for (const [tgid, list] of byTgid) {
      const walked = list.filter((r) => r.u!.length > 0);
      for (const r of list) r.s.userFrames = [];
      if (!walked.length) continue;
      const sym = symbolsOf(tgid);
      if (processAlive(tgid)) sym.snapshot();
      resolveStacks(sym, walked.map((r) => r.u!), demangler).forEach((fs, i) => (walked[i]!.s.userFrames = fs));
    }
    const stacks = rows.map((r) => r.s);
    stacks.sort((a, b) => a.totalNs - b.totalNs || a.pid - b.pid || a.comm.localeCompare(b.comm));
    const droppedNow = obj.readGlobalInt('counts_full');
    const dropped = Number(droppedNow - droppedBefore);
    droppedBefore = droppedNow;
    return { time, startNs, endNs, stacks, totalNs, missedStacks, dropped };
  };
  return { take, stop: () => clearInterval(poll) };
}

/**
 * Starts tracing off-CPU time. Reports: on demand (snapshot()), at close()
 * (the last period), or every intervalMs through `for await`. Throws a
 * UsageError for bad options (before loading anything), a PreflightError
 * when the machine cannot trace.
 */
export function offcputime(opts: OffcputimeOptions = {}): Offcputime {
  return tool.start(opts);
}
