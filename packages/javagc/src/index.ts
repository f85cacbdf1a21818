// @ebpf/javagc: Java garbage collections of one JVM, as typed events, from
// HotSpot's USDT probes.
//
//   import { javagc } from '@ebpf/javagc';
//   const trace = javagc({ pid: 1234, thresholdUs: 0, pools: true });
//   for await (const gc of trace) console.log(gc.pid, gc.durationNs, gc.pools);
//   trace.close();
import { existsSync, statSync } from 'node:fs';
import { EbpfError, UsageError, findMappedFile, hasSdtProbe, readComm, readProcStatus, readSdtNotes, type MappedFile, type Tracer } from '@ebpf/core';
import { decodeUtf8 } from '@ebpf/core/decode';
import { custom, defineEventTool, int, option, pid } from '@ebpf/core/kit';
import { GC_RECORD_SIZE, KIND_PAUSE, POOL_RECORD_SIZE, decodeGcRecord, decodePoolRecord, type Config } from './javagc.gen.js';

export interface JavagcOptions {
  /** The JVM to trace (required): a process id in this process's pid namespace. */
  pid: number;
  /** Report only collections that took at least this many microseconds (in-kernel). Default 0: all. */
  thresholdUs?: number;
  /** Also trace hotspot:mem__pool__gc__begin/end: memory pool usage before and after each collection. */
  pools?: boolean;
}

/** java.lang.management.MemoryUsage, in bytes; -1 where undefined (e.g. a pool without a max). */
export interface MemoryUsage {
  init: number;
  used: number;
  committed: number;
  max: number;
}

/** One memory pool in one collection (with `pools: true`). */
export interface PoolUsage {
  /** The memory manager (collector) name, e.g. "G1 Old Generation". */
  manager: string;
  /** The pool name, e.g. "G1 Eden Space". */
  pool: string;
  before: MemoryUsage;
  /** Usage after the collection; undefined if its end probe never fired. */
  after: MemoryUsage | undefined;
  /** CLOCK_MONOTONIC nanoseconds of the pool's begin and end probes (end 0n: missing). */
  beginTs: bigint;
  endTs: bigint;
}

export interface GcEvent {
  /**
   * 'pause': hotspot:gc__begin to gc__end, the application was stopped (the
   * GC TIME column). 'cycle': pool probes with no gc__begin around them, the
   * concurrent cycle of ZGC or Shenandoah (reported with `pools: true` only).
   */
  kind: 'pause' | 'cycle';
  /** CLOCK_MONOTONIC nanoseconds at the end (same clock as process.hrtime.bigint()). */
  timestamp: bigint;
  /** Exact duration in nanoseconds (64-bit: no wrap). */
  durationNs: bigint;
  /** Duration in whole microseconds (rounded down), as the GC TIME column shows it. */
  durationUs: number;
  /** The JVM's process id (the one asked for). */
  pid: number;
  /**
   * The JVM thread that ran the collection (the "VM Thread" for pauses), as
   * the JVM's own pid namespace numbers it (the `nid` of a thread dump); the
   * same as ours unless the JVM runs in a container.
   */
  tid: number;
  /** CPU the collection ended on. */
  cpu: number;
  /** gc__begin's argument: a full collection. */
  full: boolean;
  /** Memory pools, in the JVM's order ([] unless `pools: true`). */
  pools: PoolUsage[];
  /** Pools beyond the per-collection limit (32), not reported. */
  poolsDropped: number;
}

/** USDT provider and probe names, and the BPF program each runs. */
export const PROVIDER = 'hotspot';
const GC_PROBES = [
  { name: 'gc__begin', program: 'gc_begin' },
  { name: 'gc__end', program: 'gc_end' },
];
const POOL_PROBES = [
  { name: 'mem__pool__gc__begin', program: 'pool_begin' },
  { name: 'mem__pool__gc__end', program: 'pool_end' },
];

/**
 * The JVM's libjvm.so, checked to declare HotSpot's GC probes. Throws an
 * EbpfError with a one-line message when `pid` is no process (ESRCH), is not
 * a JVM (ENOTJVM), or its JVM was built without the probes (ENOPROBE).
 */
export function findLibjvm(pid: number, opts: { pools?: boolean } = {}): MappedFile {
  const lib = findMappedFile(pid, 'libjvm.so');
  if (!lib) {
    throw new EbpfError(`process ${pid} (${readComm(pid) ?? '?'}) is not a Java VM: no libjvm.so in /proc/${pid}/maps`, 'ENOTJVM');
  }
  let notes;
  try {
    notes = readSdtNotes(lib.hostPath);
  } catch (err) {
    throw new EbpfError(`cannot read ${lib.path} of process ${pid}: ${(err as Error).message}`, 'ENOPROBE', { cause: err });
  }
  const wanted = [...GC_PROBES, ...(opts.pools ? POOL_PROBES : [])];
  const missing = wanted.filter((p) => !hasSdtProbe(notes, PROVIDER, p.name)).map((p) => `${PROVIDER}:${p.name}`);
  if (missing.length) {
    throw new EbpfError(
      `${lib.path} of process ${pid} has no ${missing.join(', ')} USDT probe${missing.length > 1 ? 's' : ''} (a JVM built without DTrace/SDT support?)`,
      'ENOPROBE',
    );
  }
  return lib;
}

function usage(u: { init: bigint; used: bigint; committed: bigint; max: bigint }): MemoryUsage {
  return { init: Number(u.init), used: Number(u.used), committed: Number(u.committed), max: Number(u.max) };
}

function name(bytes: Uint8Array, len: number): string {
  return decodeUtf8(bytes.subarray(0, Math.min(len, bytes.length)));
}

/** Turns one ring record (a gc_record and its pool_records) into a GcEvent (pid and tid as the JVM's pid namespace numbers them). */
export function decodeGc(view: DataView, offset: number, length: number): GcEvent {
  const r = decodeGcRecord(view, offset, length);
  const pools: PoolUsage[] = [];
  const n = Math.min(r.npools, Math.floor((length - GC_RECORD_SIZE) / POOL_RECORD_SIZE));
  for (let i = 0; i < n; i++) {
    const p = decodePoolRecord(view, offset + GC_RECORD_SIZE + i * POOL_RECORD_SIZE, POOL_RECORD_SIZE);
    pools.push({
      manager: name(p.manager, p.manager_len),
      pool: name(p.pool, p.pool_len),
      before: usage(p.before),
      after: p.end_ts ? usage(p.after) : undefined,
      beginTs: p.begin_ts,
      endTs: p.end_ts,
    });
  }
  return {
    kind: r.kind === KIND_PAUSE ? 'pause' : 'cycle',
    timestamp: r.ts,
    durationNs: r.duration_ns,
    durationUs: Number(r.duration_ns / 1000n),
    pid: r.pid,
    tid: r.tid,
    cpu: r.cpu,
    full: r.full !== 0,
    pools,
    poolsDropped: r.pools_dropped,
  };
}

/**
 * The pid namespace `pid` lives in and its process id there, as the BPF
 * side's bpf_get_ns_current_pid_tgid() check wants them: the namespace's
 * device in the kernel's dev_t encoding (major << 20 | minor, where stat()
 * gives glibc's), its inode, and the last NSpid of /proc/PID/status.
 */
export function targetNamespace(pid: number): { dev: bigint; ino: bigint; nsPid: number } {
  let st;
  try {
    st = statSync(`/proc/${pid}/ns/pid`, { bigint: true });
  } catch (err) {
    throw new EbpfError(`cannot read the pid namespace of process ${pid}: ${(err as Error).message}`, 'ESRCH', { cause: err });
  }
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  const nsPid = readProcStatus(pid)?.NSpid?.split(/\s+/).pop();
  return { dev: (major << 20n) | minor, ino: st.ino, nsPid: nsPid ? Number(nsPid) : pid };
}

/** javagc's options: the API's keys, with their CLI flags. */
export const options = {
  pid: option('-p, --pid <PID>', 'trace this Java process (required)', pid),
  // -t as libbpf-tools' (a u32); from the API up to ~31.7 years (thresholdUs * 1000 stays an exact u64 of ns).
  thresholdUs: option('-t, --time <TIME>', 'show only GCs that took at least TIME microseconds', custom(int(0, 0xffffffff).parse, int(0, 1e15).check), {
    default: 0,
  }),
  pools: option('--pools', 'also show each memory pool: used and max bytes, before -> after'),
};

const probes = (o: { pools?: boolean }) => [...GC_PROBES, ...(o.pools ? POOL_PROBES : [])];

export const tool = defineEventTool({
  name: 'javagc',
  object: new URL('./javagc.bpf.o', import.meta.url),
  options,
  check: (o) => {
    if (o.pid === undefined) throw new UsageError('pid is required: the Java process to trace');
  },
  programs: (o) => probes(o).map((p) => p.program),
  target: (o) => ({ lib: findLibjvm(o.pid!, o), ns: targetNamespace(o.pid!) }),
  knobs: (o, { ns }) => ({ targ_tgid: ns.nsPid, pidns_dev: ns.dev, pidns_ino: ns.ino, min_ns: BigInt(o.thresholdUs ?? 0) * 1000n }) satisfies Config,
  attach: (obj, o, { lib }) => {
    const pid = o.pid!;
    try {
      for (const p of probes(o)) obj.attachUsdt(p.program, { binary: lib.hostPath, pid, provider: PROVIDER, name: p.name });
    } catch (err) {
      if (!existsSync(`/proc/${pid}`)) throw new EbpfError(`process ${pid} exited`, 'ESRCH', { cause: err });
      throw err;
    }
  },
  decode: decodeGc,
  // The BPF side reports ids in the JVM's own pid namespace: the process is the one asked for, by the caller's number.
  decoder: ({ pid }) => (view, offset, length) => {
    const ev = decodeGc(view, offset, length);
    ev.pid = pid!;
    return ev;
  },
});

/**
 * Starts tracing the JVM `pid`. Throws a UsageError for bad options, a
 * PreflightError when the machine cannot trace (not root, no BTF), and an
 * EbpfError when the process is gone, is not a JVM, or lacks the probes.
 */
export function javagc(opts: JavagcOptions): Tracer<GcEvent> {
  return tool.start(opts);
}

export type { Tracer } from '@ebpf/core';
