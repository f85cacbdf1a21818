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
import { UsageError, type BpfObject } from '@ebpf/core';
import { apiOption, checkInterval, checkOptions, checkStackSides, containerOptions, definePeriodicTool, delimitedFlag, flameGraphOption, int, option, type Periodic, pid, stackSideOptions, stackStorageOption, type StackReport, type StackToolOptions } from '@ebpf/core/kit';
import { StackCounts, type StackFrames } from '@ebpf/core/symbolize';
import { EBPF_USTACK_OFFSETS, MAX_STACK_DEPTH, STACK_MISSED, STACK_NONE, STACK_SKIPPED, decodeOffcpuKey, type Config } from './offcputime.gen.js';

export type { Frame } from '@ebpf/core/symbolize';

/** pid, tid (-t), userStacksOnly, kernelStacksOnly, stackStorageSize (default 1024), maxKeys: the kit's StackToolOptions. */
export interface OffcputimeOptions extends StackToolOptions {
  /** -u: user threads only (no kernel threads). */
  userThreadsOnly?: boolean;
  /** -k: kernel threads only. */
  kernelThreadsOnly?: boolean;
  /** -m: blocks shorter than this many microseconds are not counted (default 1). */
  minBlockUs?: number;
  /** -M: blocks longer than this many microseconds are not counted (default: no limit). */
  maxBlockUs?: number;
  /** --state: only blocks that began in a task state with one of these bits (0: preempted, TASK_RUNNING). */
  state?: number;
}

/**
 * One total: a thread, the stacks it blocked in, its comm. Frames
 * (StackFrames): kernelFrames undefined with userStacksOnly, userFrames
 * with kernelStacksOnly; [] when there is none or it was missed.
 */
export interface OffcpuStack extends StackFrames {
  /** The thread id (BCC prints it as "pid"). */
  pid: number;
  /** Its process. */
  tgid: number;
  comm: string;
  /** Off-CPU nanoseconds, summed. */
  totalNs: number;
  /** Ids in the stack map (hashes of the frames); 0: there is none, 1: not collected, 2: missed. */
  kernelStackId: bigint;
  userStackId: bigint;
}

/** A report: the kit's StackReport (smallest total first) and the off-CPU time over every stack. */
export interface Report extends StackReport<OffcpuStack> {
  /** Off-CPU nanoseconds over every stack. */
  totalNs: number;
}

export type Offcputime = Periodic<Report>;

const micros = int(1, Number.MAX_SAFE_INTEGER);

/** offcputime's flags, in BCC's order: the API's options (by their keys) and the display flags (cliOnly). */
export const options = {
  pid: option('-p, --pid <PID>', 'trace this PID only', pid, { conflicts: ['tid', 'userThreadsOnly', 'kernelThreadsOnly'] }),
  tid: option('-t, --tid <TID>', 'trace this TID only', pid, { conflicts: ['userThreadsOnly', 'kernelThreadsOnly'] }),
  userThreadsOnly: option('-u, --user-threads-only', 'user threads only (no kernel threads)', undefined, { conflicts: ['kernelThreadsOnly'] }),
  kernelThreadsOnly: option('-k, --kernel-threads-only', 'kernel threads only (no user threads)'),
  ...stackSideOptions,
  delimited: delimitedFlag,
  folded: option('-f, --folded', 'output folded format', undefined, { cliOnly: true }),
  stackStorageSize: stackStorageOption(1024, 1 << 20),
  minBlockUs: option('-m, --min-block-time <MIN_BLOCK_TIME>', 'the amount of time in microseconds over which we store traces', micros, { default: 1 }),
  maxBlockUs: option('-M, --max-block-time <MAX_BLOCK_TIME>', 'the amount of time in microseconds under which we store traces (default U64_MAX)', micros),
  state: option('--state <STATE>', 'filter on this thread state bitmask (eg, 2 == TASK_UNINTERRUPTIBLE) see include/linux/sched.h', int(0, 0xffffffff)),
  flamegraph: flameGraphOption,
  maxKeys: apiOption('totals kept at most', int(1, 1 << 24)),
  ...containerOptions,
};

/** Checks the options as offcputime() does first: a UsageError naming what is wrong. */
export function check(o: OffcputimeOptions): void {
  checkOptions(options, o, ['intervalMs', 'count']);
  checkInterval(o.intervalMs, o.count);
  const threads = [o.pid !== undefined, o.tid !== undefined, !!o.userThreadsOnly, !!o.kernelThreadsOnly].filter(Boolean).length;
  if (threads > 1) throw new UsageError('pid, tid, userThreadsOnly and kernelThreadsOnly exclude each other');
  checkStackSides(o);
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

/** Reads reports from the loaded object: totals drained, stacks symbolized (core's StackCounts). */
function reader(obj: BpfObject, o: OffcputimeOptions): { take: (startNs: bigint, endNs: bigint) => Report; stop: () => void } {
  const ids = { none: STACK_NONE, skipped: STACK_SKIPPED, missed: STACK_MISSED, offsets: EBPF_USTACK_OFFSETS, depth: MAX_STACK_DEPTH };
  const counts = new StackCounts(obj, { decodeKey: decodeOffcpuKey, tgidOf: (k) => k.tgid, ids, pid: o.pid, tracingFrame: TRACING_FRAME });
  const take = (startNs: bigint, endNs: bigint): Report => {
    const time = new Date();
    const t = counts.take();
    let totalNs = 0;
    const stacks = t.counts.map(({ key, value, frames }): OffcpuStack => {
      totalNs += value;
      return { pid: key.pid, tgid: key.tgid, comm: key.comm, totalNs: value, kernelStackId: key.kern_stack_id, userStackId: key.user_stack_id, ...frames };
    });
    stacks.sort((a, b) => a.totalNs - b.totalNs || a.pid - b.pid || a.comm.localeCompare(b.comm));
    return { time, startNs, endNs, stacks, totalNs, missedStacks: t.missedStacks, dropped: t.dropped };
  };
  return { take, stop: () => counts.stop() };
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
