// @ebpf/exitsnoop: trace process (or thread) termination, as typed events.
//
//   import { exitsnoop } from '@ebpf/exitsnoop';
//   const trace = exitsnoop({ failed: true });
//   for await (const ev of trace) console.log(ev.pid, ev.comm, ev.exitCode ?? ev.signalName);
//   trace.close();
import { existsSync } from 'node:fs';
import { ObjectSpec, Tracer, UsageError, preflight } from '@ebpf/core';
import { signalName } from '@ebpf/core/signals';
import { decodeEvent, type Config } from './exitsnoop.gen.js';

export interface ExitsnoopOptions {
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

/** Where the compiled BPF object lives: next to this file once built; in
 * ../dist when this module runs from source (src/index.ts under vitest). */
export const objectPath = ((): URL => {
  const built = new URL('./exitsnoop.bpf.o', import.meta.url);
  const fromSource = new URL('../dist/exitsnoop.bpf.o', import.meta.url);
  return existsSync(built) || !existsSync(fromSource) ? built : fromSource;
})();

/** The tracepoints exitsnoop attaches to. */
export const tracepoints = ['sched:sched_process_exit'];

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
    ageNs: raw.age_ns,
    ageSeconds: Number(raw.age_ns) / 1e9,
    status: raw.status,
    ...decodeStatus(raw.status),
    groupDead: raw.group_dead !== 0,
  };
}

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function exitsnoop(opts: ExitsnoopOptions = {}): Tracer<ExitEvent> {
  if (opts.pid !== undefined && (!Number.isInteger(opts.pid) || opts.pid < 1 || opts.pid > 4194304)) {
    throw new UsageError(`pid must be an integer from 1 to 4194304, got ${opts.pid}`);
  }
  const ring = opts.ringBytes ?? 64 * 1024;
  if (!Number.isInteger(ring) || ring < 4096 || (ring & (ring - 1)) !== 0) {
    throw new UsageError(`ringBytes must be a power of two of at least 4096, got ${ring}`);
  }
  preflight({ tracepoints });

  const spec = ObjectSpec.fromFile(objectPath, 'exitsnoop');
  try {
    const config: Config = {
      per_thread: !!opts.perThread,
      failed_only: !!opts.failed,
      targ_tgid: opts.pid ?? 0,
    };
    spec.setConfig({ ...config });
    spec.setMaxEntries('events', ring);
  } catch (err) {
    spec.close();
    throw err;
  }
  const obj = spec.load();
  try {
    obj.attach();
    return new Tracer<ExitEvent>({ object: obj, rings: ['events'], decode: decodeExit });
  } catch (err) {
    obj.close();
    throw err;
  }
}

export type { Tracer } from '@ebpf/core';
