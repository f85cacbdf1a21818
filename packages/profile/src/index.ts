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
import { PerfSoftware, PerfType, UsageError, possibleCpus, processAlive, u64Key, type BpfObject } from '@ebpf/core';
import { apiOption, containerOptions, type ContainerOptions, checkInterval, checkOptions, definePeriodicTool, int, option, pid, type IntervalOptions, type Periodic } from '@ebpf/core/kit';
import { Demangler, KernelSymbolizer, ProcessSymbols, WithPerfMap, resolveStacks, type Frame } from '@ebpf/core/symbolize';
import { EBPF_USTACK_OFFSETS as STACK_OFFSETS, MAX_STACK_DEPTH, STACK_MISSED, STACK_NONE, STACK_SKIPPED, decodeProfileKey, type Config } from './profile.gen.js';

export type { Frame } from '@ebpf/core/symbolize';

export interface ProfileOptions extends IntervalOptions, ContainerOptions {
  /** -p: this process only. */
  pid?: number;
  /** -L: this thread only. */
  tid?: number;
  /** -U: user stacks only. */
  userStacksOnly?: boolean;
  /** -K: kernel stacks only. */
  kernelStacksOnly?: boolean;
  /** -I: count samples of idle CPUs (the idle task, pid 0) too. */
  includeIdle?: boolean;
  /** -F: samples per second on each CPU (default 49 when sampleCount is not given). */
  frequency?: number;
  /** -c: a sample every this many nanoseconds of CPU time (cpu-clock counts nanoseconds). */
  sampleCount?: number;
  /** -C: this CPU only. */
  cpu?: number;
  /** --stack-storage-size: stacks stored (default 16384, as BCC). */
  stackStorageSize?: number;
  /** Distinct (process, stacks, comm) counts kept (default 10240). */
  maxKeys?: number;
}

/** One count: a process, the stacks it was sampled in, its comm. */
export interface ProfileStack {
  /** The process (BCC prints it as "pid"). */
  pid: number;
  comm: string;
  /** Samples. */
  count: number;
  /** Innermost first; undefined with userStacksOnly; [] when there is none or it was missed. */
  kernelFrames?: Frame[];
  userFrames?: Frame[];
  /** A stack that was there but could not be stored (BCC: "[Missed Kernel Stack]"). */
  kernelMissed: boolean;
  userMissed: boolean;
}

export interface Report {
  time: Date;
  startNs: bigint;
  endNs: bigint;
  /** Fewest samples first, as BCC prints them. */
  stacks: ProfileStack[];
  /** Samples over every stack. */
  samples: number;
  /** Stacks that could not be stored (BCC's "stack traces could not be displayed"). */
  missedStacks: number;
  /** Samples not counted in this period: the counts map was full (maxKeys). */
  dropped: number;
  /** User frames named from a perf map (JIT code). */
  jitFrames: number;
  /** Files whose user frames found no symbol (stripped, no debug file): module → samples through them. */
  unnamed: Map<string, number>;
}

export type Profile = Periodic<Report>;

const [NONE, SKIPPED, MISSED] = [BigInt(STACK_NONE), BigInt(STACK_SKIPPED), BigInt(STACK_MISSED)];

export const options = {
  pid: option('-p, --pid <PID>', 'profile process with this PID only', pid, { conflicts: ['tid'] }),
  tid: option('-L, --tid <TID>', 'profile thread with this TID only', pid),
  userStacksOnly: option('-U, --user-stacks-only', 'show stacks from user space only (no kernel space stacks)', undefined, { conflicts: ['kernelStacksOnly'] }),
  kernelStacksOnly: option('-K, --kernel-stacks-only', 'show stacks from kernel space only (no user space stacks)'),
  frequency: option('-F, --frequency <FREQUENCY>', 'sample frequency, Hertz', int(1, 1000000), { conflicts: ['sampleCount'] }),
  sampleCount: option('-c, --count <COUNT>', 'sample period, number of events', int(1, Number.MAX_SAFE_INTEGER)),
  includeIdle: option('-I, --include-idle', 'include CPU idle stacks'),
  stackStorageSize: option('--stack-storage-size <STACK_STORAGE_SIZE>', 'the number of unique stack traces that can be stored and displayed', int(1, 1 << 24), { default: 16384 }),
  cpu: option('-C, --cpu <CPU>', 'cpu number to run profile on', int(0, 4095)),
  maxKeys: apiOption('counts kept at most', int(1, 1 << 24)),
  ...containerOptions,
};

export function check(o: ProfileOptions): void {
  checkOptions(options, o, ['intervalMs', 'count']);
  checkInterval(o.intervalMs, o.count);
  if (o.pid !== undefined && o.tid !== undefined) throw new UsageError('pid and tid exclude each other');
  if (o.userStacksOnly && o.kernelStacksOnly) throw new UsageError('userStacksOnly and kernelStacksOnly exclude each other');
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

/** Reads reports: counts drained, stacks symbolized (JIT frames from perf maps), processes' symbols kept while they run. */
function reader(obj: BpfObject, o: ProfileOptions): { take: (startNs: bigint, endNs: bigint) => Report; stop: () => void } {
  const counts = obj.map('counts');
  const stackMap = obj.map('stacks');
  const kernel = new KernelSymbolizer();
  kernel.load();
  const demangler = new Demangler();
  const procs = new Map<number, WithPerfMap>();
  const symbolsOf = (tgid: number) => procs.get(tgid) ?? procs.set(tgid, new WithPerfMap(new ProcessSymbols(tgid), tgid)).get(tgid)!;
  const poll = o.pid !== undefined ? setInterval(() => symbolsOf(o.pid!).snapshot(), 1000).unref() : undefined;
  if (o.pid !== undefined) symbolsOf(o.pid);
  let droppedBefore = 0n;

  const take = (startNs: bigint, endNs: bigint): Report => {
    const time = new Date();
    const rows: Array<{ s: ProfileStack; k?: bigint[]; u?: bigint[] }> = [];
    let missedStacks = 0;
    let samples = 0;
    const ids = new Set<bigint>();
    // One side of a key: addresses; [] when there is none or it was missed; undefined when not collected.
    const side = (id: bigint, s: ProfileStack, missed: 'kernelMissed' | 'userMissed'): bigint[] | undefined => {
      if (id === SKIPPED) return undefined;
      if (id === NONE) return [];
      const v = id === MISSED ? undefined : stackMap.lookup(u64Key(id));
      if (!v) {
        missedStacks++;
        s[missed] = true;
        return [];
      }
      ids.add(id);
      const nr = Math.min(Number(v.readBigUInt64LE(STACK_OFFSETS.nr)), MAX_STACK_DEPTH);
      return Array.from({ length: nr }, (_, i) => v.readBigUInt64LE(STACK_OFFSETS.ips + 8 * i));
    };
    for (const [k, v] of counts.drain(4096)) {
      const key = decodeProfileKey(new DataView(k.buffer, k.byteOffset, k.length), 0, k.length);
      const s: ProfileStack = { pid: key.pid, comm: key.comm, count: Number(v.readBigUInt64LE(0)), kernelMissed: false, userMissed: false };
      rows.push({ s, k: side(key.kern_stack_id, s, 'kernelMissed'), u: side(key.user_stack_id, s, 'userMissed') });
      samples += s.count;
    }
    // The stacks of this period are read: free them for the next one.
    for (const id of ids) stackMap.delete(u64Key(id));
    const withK = rows.filter((r) => r.k);
    resolveStacks(kernel, withK.map((r) => r.k!), demangler).forEach((fs, i) => (withK[i]!.s.kernelFrames = fs));
    let jitFrames = 0;
    const unnamed = new Map<string, number>();
    const byTgid = new Map<number, typeof rows>();
    for (const r of rows) if (r.u) byTgid.get(r.s.pid)?.push(r) ?? byTgid.set(r.s.pid, [r]);
    for (const [tgid, list] of byTgid) {
      for (const r of list) r.s.userFrames = [];
      const walked = list.filter((r) => r.u!.length > 0);
      if (!walked.length || tgid === 0) continue;
      const sym = symbolsOf(tgid);
      if (processAlive(tgid)) sym.snapshot();
      resolveStacks(sym, walked.map((r) => r.u!), demangler).forEach((fs, i) => {
        const s = walked[i]!.s;
        s.userFrames = fs;
        jitFrames += fs.filter((f) => f.module?.startsWith('perf-')).length;
        for (const m of new Set(fs.filter((f) => f.name === undefined && f.module !== undefined && f.module !== '[vdso]' && !f.module.endsWith('(deleted)')).map((f) => f.module!))) unnamed.set(m, (unnamed.get(m) ?? 0) + s.count);
      });
    }
    const stacks = rows.map((r) => r.s);
    stacks.sort((a, b) => a.count - b.count || a.pid - b.pid || a.comm.localeCompare(b.comm));
    const droppedNow = obj.readGlobalInt('counts_full');
    const dropped = Number(droppedNow - droppedBefore);
    droppedBefore = droppedNow;
    return { time, startNs, endNs, stacks, samples, missedStacks, dropped, jitFrames, unnamed };
  };
  return { take, stop: () => clearInterval(poll) };
}

/**
 * Starts sampling. Reports: on demand (snapshot()), at close(), or every
 * intervalMs through `for await`. Throws a UsageError for bad options, a
 * PreflightError when the machine cannot trace.
 */
export function profile(opts: ProfileOptions = {}): Profile {
  return tool.start(opts);
}
