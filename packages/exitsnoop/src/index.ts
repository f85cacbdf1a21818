// @ebpf/exitsnoop: trace process (or thread) termination, as typed events.
//
//   import { exitsnoop } from '@ebpf/exitsnoop';
//   const trace = exitsnoop({ failed: true });
//   for await (const ev of trace) console.log(ev.pid, ev.comm, ev.exitCode ?? ev.signalName);
//   trace.close();
import { UsageError, readProcStatus, type Tracer } from '@ebpf/core';
import { containerOptions, type ContainerOptions, custom, defineEventTool, option, pid } from '@ebpf/core/kit';
import { signalName } from '@ebpf/core/signals';
import { EVENT_SIZE, decodeEvent, type Config } from './exitsnoop.gen.js';

export interface ExitsnoopOptions extends ContainerOptions {
  /** Only this process (thread-group id), in-kernel. */
  pid?: number;
  /** Only exits with a non-zero status: a non-zero exit code, or a fatal signal (in-kernel). */
  failed?: boolean;
  /**
   * Report every thread's exit. Default: one event per process, when its last
   * thread exits (not when its main thread does).
   */
  perThread?: boolean;
  /** Ring buffer size in bytes, a power of two (default 64 KiB). */
  ringBytes?: number;
}

export interface ExitEvent {
  /** CLOCK_MONOTONIC nanoseconds at exit (same clock as process.hrtime.bigint()). */
  timestamp: bigint;
  /** Process id (thread-group id). */
  pid: number;
  /** The exiting thread; for a process event, the last of its threads. */
  tid: number;
  /** Parent's process id at exit: who collects the status with wait(). */
  ppid: number;
  /** Process name (the main thread's); per thread: the thread's name. */
  comm: string;
  /** The cgroup v2 id of the exiting task (its directory's inode number under the cgroup2 mount; 1: the root). Its path: CgroupPaths from @ebpf/core/kit. */
  cgroupId: bigint;
  /** Time since the process (per thread: the thread) started, in nanoseconds. */
  ageNs: bigint;
  /** The same in seconds. */
  ageSeconds: number;
  /** The raw wait status: (code << 8) | (0x80 if core dumped) | signal. */
  status: number;
  /** exit() code, or null when a signal ended it. */
  exitCode: number | null;
  /** The fatal signal's number, or null for a normal exit. */
  signal: number | null;
  /** The fatal signal's name ('SIGKILL', 'SIGUSR1', 'SIGRTMIN+2'), or null. */
  signalName: string | null;
  /** The signal dumped core (a core file or a core_pattern pipe received it). */
  coreDumped: boolean;
  /** This exit ended the process (always true unless perThread). */
  groupDead: boolean;
}

/** Splits a wait status the way the kernel builds it (and BCC decodes it). */
export function decodeStatus(status: number): Pick<ExitEvent, 'exitCode' | 'signal' | 'signalName' | 'coreDumped'> {
  const low = status & 0xff;
  if (low === 0) return { exitCode: status >>> 8, signal: null, signalName: null, coreDumped: false };
  const sig = low & 0x7f;
  return { exitCode: null, signal: sig, signalName: signalName(sig) ?? null, coreDumped: (low & 0x80) !== 0 };
}

/** Turns one ring record into an ExitEvent. */
export function decodeExit(view: DataView, offset: number, length: number): ExitEvent {
  const raw = decodeEvent(view, offset, length);
  return {
    timestamp: raw.ts,
    pid: raw.pid,
    tid: raw.tid,
    ppid: raw.ppid,
    comm: raw.comm,
    cgroupId: raw.cgroup_id,
    ageNs: raw.age_ns,
    ageSeconds: Number(raw.age_ns) / 1e9,
    status: raw.status,
    ...decodeStatus(raw.status),
    groupDead: raw.group_dead !== 0,
  };
}

/** A PID naming a live process (a thread group), not one of its threads. */
const tgid = custom((text, flag) => {
  const n = pid.parse(text, flag);
  const status = readProcStatus(n);
  if (!status) throw new UsageError(`invalid ${flag} value '${text}': no such process`);
  const group = Number(status.Tgid ?? n);
  if (group !== n) throw new UsageError(`invalid ${flag} value '${text}': ${n} is a thread of process ${group}`);
  return n;
}, pid.check);

/** exitsnoop's options: the API's keys, with their CLI flags. */
export const options = {
  pid: option('-p, --pid <PID>', 'trace this PID only, and end once it has exited', tgid),
  failed: option('-x, --failed', 'trace only fails, exclude exit(0)'),
  perThread: option('--per-thread', 'trace per thread termination'),
  ...containerOptions,
};

export const tool = defineEventTool({
  name: 'exitsnoop',
  object: new URL('./exitsnoop.bpf.o', import.meta.url),
  options,
  knobs: (o) => ({ per_thread: !!o.perThread, failed_only: !!o.failed, targ_tgid: o.pid ?? 0 }) satisfies Config,
  // The default ring holds a storm's worth of records on every CPU (kit: defaultRingBytes).
  ring: { defaultBytes: 64 * 1024, recordBytes: EVENT_SIZE, ratePerCpu: 10_000 },
  decode: decodeExit,
});

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function exitsnoop(opts: ExitsnoopOptions = {}): Tracer<ExitEvent> {
  return tool.start(opts);
}

export type { Tracer } from '@ebpf/core';
