// @ebpf/profile: a CPU profiler. Stacks sampled at a fixed rate on every
// CPU (a software cpu-clock perf event), counted by stack, as typed reports.
//
//   import { profile } from '@ebpf/profile';
//   const p = profile({ frequency: 99, pid: 1234 });
//   // ... later:
//   const report = p.close()!;        // or p.snapshot(), or for await with intervalMs
//   for (const s of report.stacks) console.log(s.comm, s.count, s.userFrames?.map((f) => f.name));
//
// JIT frames are named from /tmp/perf-PID.map (node --perf-basic-prof).
import { PerfSoftware, PerfType, UsageError, possibleCpus, type BpfObject } from '@ebpf/core';
import { apiOption, checkInterval, checkOptions, checkStackSides, containerOptions, definePeriodicTool, delimitedFlag, flameGraphOption, int, option, type Periodic, pid, stackSideOptions, stackStorageOption, type StackReport, type StackToolOptions } from '@ebpf/core/kit';
import { StackCounts, type StackFrames } from '@ebpf/core/symbolize';
import { EBPF_USTACK_OFFSETS, MAX_STACK_DEPTH, STACK_MISSED, STACK_NONE, STACK_SKIPPED, decodeProfileKey, type Config } from './profile.gen.js';

export type { Frame } from '@ebpf/core/symbolize';

/** pid, tid (-L), userStacksOnly, kernelStacksOnly, stackStorageSize (default 16384, as BCC), maxKeys: the kit's StackToolOptions. */
export interface ProfileOptions extends StackToolOptions {
  /** -I: count samples of idle CPUs (the idle task, pid 0) too. */
  includeIdle?: boolean;
  /** -F: samples per second on each CPU (default 49 when sampleCount is not given). */
  frequency?: number;
  /** -c: a sample every this many nanoseconds of CPU time (cpu-clock counts nanoseconds). */
  sampleCount?: number;
  /** -C: this CPU only. */
  cpu?: number;
}

/**
 * One count: a process, the stacks it was sampled in, its comm. Frames
 * (StackFrames): kernelFrames undefined with userStacksOnly, userFrames
 * with kernelStacksOnly; [] when there is none or it was missed.
 */
export interface ProfileStack extends StackFrames {
  /** The process (BCC prints it as "pid"). */
  pid: number;
  comm: string;
  /** Samples. */
  count: number;
}

/** A report: the kit's StackReport (fewest samples first), the samples over every stack, and what the user frames were named from. */
export interface Report extends StackReport<ProfileStack> {
  /** Samples over every stack. */
  samples: number;
  /** User frames named from a perf map (JIT code). */
  jitFrames: number;
  /** Files whose user frames found no symbol (stripped, no debug file): module → samples through them. */
  unnamed: Map<string, number>;
}

export type Profile = Periodic<Report>;

/** profile's flags, in BCC's order: the API's options (by their keys) and the display flags (cliOnly). */
export const options = {
  pid: option('-p, --pid <PID>', 'profile process with this PID only', pid, { conflicts: ['tid'] }),
  tid: option('-L, --tid <TID>', 'profile thread with this TID only', pid),
  ...stackSideOptions,
  frequency: option('-F, --frequency <FREQUENCY>', 'sample frequency, Hertz', int(1, 1000000), { conflicts: ['sampleCount'] }),
  sampleCount: option('-c, --count <COUNT>', 'sample period, number of events', int(1, Number.MAX_SAFE_INTEGER)),
  delimited: delimitedFlag,
  annotations: option('-a, --annotations', 'add _[k] annotations to kernel frames', undefined, { cliOnly: true }),
  includeIdle: option('-I, --include-idle', 'include CPU idle stacks'),
  folded: option('-f, --folded', 'output folded format, one line per stack (for flame graphs)', undefined, { cliOnly: true }),
  stackStorageSize: stackStorageOption(16384, 1 << 24),
  cpu: option('-C, --cpu <CPU>', 'cpu number to run profile on', int(0, 4095)),
  flamegraph: flameGraphOption,
  maxKeys: apiOption('counts kept at most', int(1, 1 << 24)),
  ...containerOptions,
};

export function check(o: ProfileOptions): void {
  checkOptions(options, o, ['intervalMs', 'count']);
  checkInterval(o.intervalMs, o.count);
  if (o.pid !== undefined && o.tid !== undefined) throw new UsageError('pid and tid exclude each other');
  checkStackSides(o);
  if (o.frequency !== undefined && o.sampleCount !== undefined) throw new UsageError('frequency (-F) and sampleCount (-c) exclude each other');
  if (o.cpu !== undefined && o.cpu >= possibleCpus()) throw new UsageError(`invalid CPU ${o.cpu}: this machine has CPUs 0..${possibleCpus() - 1}`);
}

export const tool = definePeriodicTool({
  name: 'profile',
  options,
  object: new URL('./profile.bpf.o', import.meta.url),
  check,
  knobs: (o) =>
    ({
      targ_tgid: o.pid ?? 0,
      targ_tid: o.tid ?? 0,
      include_idle: !!o.includeIdle,
      user_stacks: !o.kernelStacksOnly,
      kernel_stacks: !o.userStacksOnly,
    }) satisfies Config,
  maps: (o) => ({ stacks: o.stackStorageSize ?? 16384, counts: o.maxKeys ?? 10240 }),
  attach: (obj, o) => {
    const rate = o.sampleCount !== undefined ? { period: o.sampleCount } : { frequency: o.frequency ?? 49 };
    obj.attachPerfEvent('do_perf_event', { type: PerfType.SOFTWARE, config: PerfSoftware.CPU_CLOCK, ...rate, ...(o.cpu !== undefined ? { cpus: [o.cpu] } : {}) });
  },
  reader,
});

/** Reads reports: counts drained, stacks symbolized (JIT frames from perf maps) and freed for the next period (core's StackCounts). */
function reader(obj: BpfObject, o: ProfileOptions): { take: (startNs: bigint, endNs: bigint) => Report; stop: () => void } {
  const ids = { none: STACK_NONE, skipped: STACK_SKIPPED, missed: STACK_MISSED, offsets: EBPF_USTACK_OFFSETS, depth: MAX_STACK_DEPTH };
  const counts = new StackCounts(obj, { decodeKey: decodeProfileKey, tgidOf: (k) => k.pid, ids, pid: o.pid, perfMaps: true, freeStacks: true });
  const take = (startNs: bigint, endNs: bigint): Report => {
    const time = new Date();
    const t = counts.take();
    let samples = 0;
    const stacks = t.counts.map(({ key, value, frames }): ProfileStack => {
      samples += value;
      return { pid: key.pid, comm: key.comm, count: value, ...frames };
    });
    let jitFrames = 0;
    const unnamed = new Map<string, number>();
    for (const { value, frames } of t.userResolved) {
      const fs = frames.userFrames!;
      jitFrames += fs.filter((f) => f.module?.startsWith('perf-')).length;
      for (const m of new Set(fs.filter((f) => f.name === undefined && f.module !== undefined && f.module !== '[vdso]' && !f.module.endsWith('(deleted)')).map((f) => f.module!))) unnamed.set(m, (unnamed.get(m) ?? 0) + value);
    }
    stacks.sort((a, b) => a.count - b.count || a.pid - b.pid || a.comm.localeCompare(b.comm));
    return { time, startNs, endNs, stacks, samples, missedStacks: t.missedStacks, dropped: t.dropped, jitFrames, unnamed };
  };
  return { take, stop: () => counts.stop() };
}

/**
 * Starts sampling. Reports: on demand (snapshot()), at close(), or every
 * intervalMs through `for await`. Throws a UsageError for bad options, a
 * PreflightError when the machine cannot trace.
 */
export function profile(opts: ProfileOptions = {}): Profile {
  return tool.start(opts);
}
