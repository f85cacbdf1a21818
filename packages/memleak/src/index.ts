// @ebpf/memleak: outstanding allocations by stack, as typed reports.
//
//   import { memleak } from '@ebpf/memleak';
//   const ml = await memleak({ pid: 1234, interval: 5 });
//   for await (const report of ml) {
//     for (const s of report.stacks) console.log(s.bytes, s.allocations, s.frames.map((f) => f.text));
//   }
//   await ml.close();
//
// User mode (pid or command): uprobes on the allocator of the C library the
// process maps (or -O OBJ). Kernel mode (neither): the kmem tracepoints.
import { existsSync, readFileSync } from 'node:fs';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import {
  BpfObject,
  ObjectSpec,
  Tracer,
  UsageError,
  hasTracepoint,
  preflight,
  readComm,
  u64Key,
  uprobeMultiSupported,
  type Link,
} from '@ebpf/core';
import { ElfFile, uprobeOffset } from '@ebpf/core/symbolize';
import { Reg, findProbePoint, rel32Targets } from './attach-point.js';
import { decodeEvent, EV_ALLOC_ENTER, EV_ALLOC_EXIT, EV_FREE, type Config } from './memleak.gen.js';
import { Demangler, ProcessSymbols, kernelSymbols, resolveStacks, type Frame } from './symbols.js';
import { alive, entryPoint, findAllocator, processState, sleep, splitCommand, startStopped, until, which, type AllocatorLibrary } from './target.js';

export type { Frame } from './symbols.js';
export type { AllocatorLibrary } from './target.js';

export interface MemleakOptions {
  /** Trace the allocator of this process (user mode). */
  pid?: number;
  /** Start this command (argv, or a string split on whitespace as BCC does) and trace it from its first instruction. */
  command?: string | string[];
  /** stdio of the command (default 'inherit'). */
  commandStdio?: StdioOptions;
  /** -O: the library whose allocator to probe: a -l style name ("c", "jemalloc"), a basename or a path (default "c"). */
  obj?: string;
  /** Seconds between the reports of the async iterator (default 5). */
  interval?: number;
  /** Reports the async iterator yields before it ends (default: until close()). */
  count?: number;
  /** -T: stacks per report (default 10). */
  top?: number;
  /** -o: leave out allocations younger than this many milliseconds (default 500; not with combinedOnly). */
  olderMs?: number;
  /** -s: record one allocation in this many, at random (default 1: all). */
  sampleRate?: number;
  /** -z: only allocations of at least this many bytes. */
  minSize?: number;
  /** -Z: only allocations of at most this many bytes. */
  maxSize?: number;
  /** --combined-only: reports from the in-kernel per-stack totals alone (cheap with millions of live blocks). */
  combinedOnly?: boolean;
  /** -a: reports list every outstanding allocation too. */
  showAllocs?: boolean;
  /** --percpu: kernel mode traces percpu allocations instead of kmalloc, slabs and pages. */
  percpu?: boolean;
  /** -t: an event per allocator call (see Memleak.trace). */
  trace?: boolean;
  /** --wa-missing-free: accepted for BCC compatibility; always in effect (see the README). */
  waMissingFree?: boolean;
  /** Live allocations tracked at most (default 1,000,000, as BCC). */
  maxAllocations?: number;
  /** Distinct stacks stored at most (default 10,240, as BCC). */
  stackStorageSize?: number;
  /** Attach with uprobe_multi links (default: where the kernel has them, 6.9+); false: perf-event uprobes. */
  uprobeMulti?: boolean;
  /** Called once the probes are attached, before a command is let go (BCC prints "Attaching to pid N" then). */
  onAttached?: (pid: number | undefined) => void;
}

export interface ReportOptions {
  /** Overrides the olderMs option for this report (e.g. 0 once the process has exited). */
  olderMs?: number;
}

/** One stack and what it still holds. */
export interface StackReport {
  /** The stack's id in the kernel's maps (a hash of its frames; 0 when it could not be recorded). */
  stackId: bigint;
  bytes: number;
  allocations: number;
  /** Innermost first; empty when `lost`. */
  frames: Frame[];
  /** The stack itself could not be recorded or is gone (BCC: "stack information lost"). */
  lost: boolean;
}

/** One outstanding allocation (reports with showAllocs). */
export interface Allocation {
  address: bigint;
  size: number;
  stackId: bigint;
  /** Milliseconds since it was made. */
  ageMs: number;
}

export interface Report {
  time: Date;
  /** From the in-kernel totals (combinedOnly): no ages, every allocation counted. */
  combined: boolean;
  /** The stacks shown, the one holding the most bytes first (at most `top`). */
  stacks: StackReport[];
  /** Stacks with outstanding allocations in all. */
  totalStacks: number;
  /** Bytes and allocations outstanding over every stack (older than olderMs unless combined). */
  totalBytes: number;
  totalAllocations: number;
  /** With showAllocs (not combined): every outstanding allocation counted, by size, smallest first. */
  allocations?: Allocation[];
}

/** -t: one allocator call. */
export interface TraceEvent {
  kind: 'alloc-enter' | 'alloc-exit' | 'free';
  /** CLOCK_MONOTONIC nanoseconds (as process.hrtime.bigint()). */
  timestamp: bigint;
  pid: number;
  tid: number;
  cpu: number;
  comm: string;
  size: number;
  /** alloc-exit: the address returned (0: failed); free: the address freed. */
  address: bigint;
}

/** Where one allocator function's probes went. */
export interface ProbePlacement {
  function: string;
  /** The library (as the process maps it). */
  library: string;
  /** File offset of the function in the library. */
  offset: number;
  /** Bytes into the function where the probe sits (0: the entry). */
  delta: number;
  why: string;
  retprobe: boolean;
}

export interface LostCounts {
  /** Allocations not tracked because the allocs map was full. */
  allocs: number;
  /** Stacks not stored because the stacks map was full. */
  stacks: number;
  /** Allocations missing from the combined totals (map full). */
  combined: number;
  /** -t events dropped (ring buffer full). */
  events: number;
}

/** Where the compiled BPF object lives: next to this file once built; in ../dist from source. */
export const objectPath = ((): URL => {
  const built = new URL('./memleak.bpf.o', import.meta.url);
  const fromSource = new URL('../dist/memleak.bpf.o', import.meta.url);
  return existsSync(built) || !existsSync(fromSource) ? built : fromSource;
})();

/** The allocator functions probed in user mode: the program pair and the argument registers read at entry. */
export const USER_FUNCTIONS: ReadonlyArray<{ name: string; enter: string; exit?: string; args: number[] }> = [
  { name: 'malloc', enter: 'malloc_enter', exit: 'malloc_exit', args: [Reg.rdi] },
  { name: 'calloc', enter: 'calloc_enter', exit: 'calloc_exit', args: [Reg.rdi, Reg.rsi] },
  { name: 'realloc', enter: 'realloc_enter', exit: 'realloc_exit', args: [Reg.rdi, Reg.rsi] },
  { name: 'mmap', enter: 'mmap_enter', exit: 'mmap_exit', args: [Reg.rsi] },
  { name: 'posix_memalign', enter: 'posix_memalign_enter', exit: 'posix_memalign_exit', args: [Reg.rdi, Reg.rdx] },
  { name: 'valloc', enter: 'valloc_enter', exit: 'valloc_exit', args: [Reg.rdi] },
  { name: 'memalign', enter: 'memalign_enter', exit: 'memalign_exit', args: [Reg.rsi] },
  { name: 'pvalloc', enter: 'pvalloc_enter', exit: 'pvalloc_exit', args: [Reg.rdi] },
  { name: 'aligned_alloc', enter: 'aligned_alloc_enter', exit: 'aligned_alloc_exit', args: [Reg.rsi] },
  { name: 'free', enter: 'free_enter', args: [Reg.rdi] },
  { name: 'munmap', enter: 'munmap_enter', args: [Reg.rdi] },
];
const USER_PROGRAMS = [...USER_FUNCTIONS.flatMap((f) => (f.exit ? [f.enter, f.exit] : [f.enter])), 'gate'];
/** User mode's tracepoint: an exec() of the traced process. */
const USER_TRACEPOINTS = ['exec_seen'];
const KERNEL_PROGRAMS: Record<string, string> = {
  kmalloc: 'kmem:kmalloc',
  kmem_cache_alloc: 'kmem:kmem_cache_alloc',
  kfree: 'kmem:kfree',
  kmem_cache_free: 'kmem:kmem_cache_free',
  mm_page_alloc: 'kmem:mm_page_alloc',
  mm_page_free: 'kmem:mm_page_free',
};
const NODE_PROGRAMS: Record<string, string> = { kmalloc_node: 'kmem:kmalloc_node', kmem_cache_alloc_node: 'kmem:kmem_cache_alloc_node' };
const PERCPU_PROGRAMS: Record<string, string> = { percpu_alloc: 'percpu:percpu_alloc_percpu', percpu_free: 'percpu:percpu_free_percpu' };

const EVENT_KINDS: Record<number, TraceEvent['kind']> = { [EV_ALLOC_ENTER]: 'alloc-enter', [EV_ALLOC_EXIT]: 'alloc-exit', [EV_FREE]: 'free' };
const MAX_SIZE = 2 ** 53;

function checkInt(name: string, v: number | undefined, min: number, max = MAX_SIZE): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
}

/**
 * Checks every option as memleak() does first, before anything is loaded or
 * started: throws a UsageError naming what is wrong. Returns the command's
 * argv (with `command`).
 */
export function checkOptions(o: MemleakOptions): string[] | undefined {
  if (o.pid !== undefined && o.command !== undefined) throw new UsageError('-p and -c cannot be used together');
  checkInt('pid', o.pid, 1, 4194304);
  if (o.pid !== undefined && !alive(o.pid)) throw new UsageError(`no process ${o.pid}`);
  if (o.interval !== undefined && !(o.interval > 0 && Number.isFinite(o.interval))) throw new UsageError(`interval must be a positive number of seconds, got ${o.interval}`);
  checkInt('count', o.count, 1);
  checkInt('top', o.top, 1);
  checkInt('older (ms)', o.olderMs, 0);
  checkInt('sample rate', o.sampleRate, 1, 0xffffffff);
  checkInt('min size', o.minSize, 0);
  checkInt('max size', o.maxSize, 0);
  if (o.minSize !== undefined && o.maxSize !== undefined && o.minSize > o.maxSize) {
    throw new UsageError("min_size (-z) can't be greater than max_size (-Z)");
  }
  checkInt('maxAllocations', o.maxAllocations, 1, 1 << 28);
  checkInt('stackStorageSize', o.stackStorageSize, 1, 1 << 24);
  const user = o.pid !== undefined || o.command !== undefined;
  if (o.percpu && user) throw new UsageError('--percpu traces kernel allocations: it cannot be combined with -p or -c');
  if (o.obj !== undefined && (o.obj === '' || o.obj.includes('\n'))) throw new UsageError(`invalid object name '${o.obj}'`);
  if (o.obj !== undefined && !user) throw new UsageError('-O names a user-space library: it needs -p or -c');
  if (o.command === undefined) return undefined;
  const argv = typeof o.command === 'string' ? splitCommand(o.command) : [...o.command];
  if (argv.length === 0) throw new UsageError('the command (-c) is empty');
  if (!which(argv[0]!)) throw new UsageError(`cannot run '${argv[0]}': command not found`);
  return argv;
}

/** log2 of the page size, from a mapping's KernelPageSize (4096 when unknown). */
function pageShift(): number {
  try {
    const m = readFileSync('/proc/self/smaps', 'latin1').match(/^KernelPageSize:\s+(\d+) kB/m);
    if (m) return Math.log2(Number(m[1]) * 1024);
  } catch {
    // fall through
  }
  return 12;
}

/**
 * Starts tracing; resolves once every probe is attached (with `command`,
 * the command is then running). Throws a UsageError for bad options, a
 * PreflightError when the machine cannot trace.
 */
export async function memleak(opts: MemleakOptions = {}): Promise<Memleak> {
  const argv = checkOptions(opts);
  const userMode = opts.pid !== undefined || argv !== undefined;
  const kernelProgs = opts.percpu ? PERCPU_PROGRAMS : KERNEL_PROGRAMS;
  preflight({ tracepoints: userMode ? ['sched:sched_process_exec'] : Object.values(kernelProgs) });

  let started: Awaited<ReturnType<typeof startStopped>> | undefined;
  let spec: ObjectSpec | undefined;
  let obj: BpfObject | undefined;
  try {
    if (argv) started = await startStopped(argv, opts.commandStdio ?? 'inherit');
    const pid = started?.pid ?? opts.pid;
    const multi = userMode && (opts.uprobeMulti ?? uprobeMultiSupported());

    spec = ObjectSpec.fromFile(objectPath, 'memleak');
    const config: Config = {
      targ_tgid: pid ?? 0,
      min_size: BigInt(opts.minSize ?? 0),
      max_size: opts.maxSize === undefined ? (1n << 64n) - 1n : BigInt(opts.maxSize),
      sample_rate: opts.sampleRate ?? 1,
      trace_all: !!opts.trace,
      page_shift: pageShift(),
      stop_on_exec: argv !== undefined,
    };
    spec.setConfig({ ...config });
    const wanted = new Set(userMode ? [...USER_PROGRAMS, ...USER_TRACEPOINTS] : Object.keys(kernelProgs));
    if (!userMode && !opts.percpu) for (const [p, tp] of Object.entries(NODE_PROGRAMS)) if (hasTracepoint(tp)) wanted.add(p);
    for (const p of spec.programs) {
      if (!wanted.has(p.name)) spec.setAutoload(p.name, false);
      else if (multi && USER_PROGRAMS.includes(p.name)) spec.setUprobeMulti(p.name);
    }
    spec.setMaxEntries('allocs', opts.maxAllocations ?? 1_000_000);
    const stacks = opts.stackStorageSize ?? 10240;
    spec.setMaxEntries('stacks', stacks);
    spec.setMaxEntries('combined_allocs', stacks + 1);
    spec.setMaxEntries('events', opts.trace ? 1 << 20 : 4096);
    obj = spec.load();
    spec = undefined;

    const handle = new Memleak(obj, opts, pid, started);
    if (userMode) await handle._attachUser(multi);
    else handle._attachKernel();
    return handle;
  } catch (err) {
    spec?.close();
    obj?.close();
    started?.child.kill('SIGKILL');
    throw err;
  }
}

/** A running memleak: reports on demand or every interval, until close(). */
export class Memleak implements AsyncIterable<Report> {
  /** The traced process (user mode). */
  readonly pid: number | undefined;
  readonly mode: 'user' | 'kernel';
  /** -c: the command's process. */
  readonly child: ChildProcess | undefined;
  /** -t: the per-call events (subscribe() or for await). */
  readonly trace: Tracer<TraceEvent> | undefined;
  /** Resolves when the traced process has exited (never in kernel mode). */
  readonly targetExited: Promise<void>;
  /** User mode: the library probed. */
  library: AllocatorLibrary | undefined;
  /** User mode: where each allocator function's probes went. */
  readonly probes: ProbePlacement[] = [];

  readonly #obj: BpfObject;
  readonly #opts: MemleakOptions;
  readonly #started: Awaited<ReturnType<typeof startStopped>> | undefined;
  #symbols: ProcessSymbols | ReturnType<typeof kernelSymbols> | undefined;
  readonly #demangler = new Demangler();
  #closed = false;
  #closing: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #wake: (() => void) | undefined;
  #exitedResolve!: () => void;
  #targetGone = false;

  /** @internal use memleak() */
  constructor(obj: BpfObject, opts: MemleakOptions, pid: number | undefined, started: Awaited<ReturnType<typeof startStopped>> | undefined) {
    this.#obj = obj;
    this.#opts = opts;
    this.pid = pid;
    this.mode = pid === undefined ? 'kernel' : 'user';
    this.#started = started;
    this.child = started?.child;
    this.targetExited = new Promise((r) => (this.#exitedResolve = r));
    void this.targetExited.then(() => (this.#targetGone = true));
    if (started) void started.exited.then(() => this.#exitedResolve());
    if (opts.trace) {
      this.trace = new Tracer<TraceEvent>({
        object: obj,
        rings: ['events'],
        decode: (view, offset, length) => {
          const e = decodeEvent(view, offset, length);
          return {
            kind: EVENT_KINDS[e.kind] ?? 'free',
            timestamp: e.ts,
            pid: e.pid,
            tid: e.tid,
            cpu: e.cpu,
            comm: e.comm,
            size: Number(e.size),
            address: e.addr,
          };
        },
      });
    }
  }

  /** @internal */
  _attachKernel(): void {
    this.#obj.attach();
    this.#opts.onAttached?.(undefined);
    const k = kernelSymbols();
    k.load(); // kallsyms is read now, so the first report (maybe the final one) is quick
    this.#symbols = k;
  }

  /** @internal */
  async _attachUser(multi: boolean): Promise<void> {
    const pid = this.pid!;
    const started = this.#started;
    const obj = this.#obj;
    this.#attachProbe = (program, binary, offset, retprobe) =>
      multi
        ? obj.attachUprobeMulti(program, { binary, offsets: [offset], pid, retprobe })
        : obj.attachUprobe(program, { binary, offset, pid, retprobe });

    if (started) {
      // -c: let the launcher exec the command, and stop it again at the
      // program's entry point (every library mapped, nothing of the program
      // run yet) with the `gate` program, to attach to what it really maps.
      const what = `'${started.argv.join(' ')}'`;
      const entry = entryPoint(which(started.argv[0]!)!);
      if (entry) {
        const stopped = await this.#gate(entry);
        if (!stopped && this.#targetGone) throw new UsageError(`cannot run ${what}: it exited with status ${await started.exited}`);
        if (!stopped) throw new UsageError(`${what} did not reach its entry point`);
      } else {
        // No entry point known (not an ELF program): wait for the exec, a
        // little later than ideal.
        process.kill(pid, 'SIGCONT');
        await until(() => readComm(pid) !== 'sh', 2000, () => this.#targetGone);
        process.kill(pid, 'SIGSTOP');
        await until(() => processState(pid) === 'T', 2000, () => this.#targetGone);
      }
    }

    this.#symbols = new ProcessSymbols(pid);
    if (!this.#attachAllocator()) {
      const objName = this.#opts.obj ?? 'c';
      const what = objName.includes('/') || objName.includes('.so') ? objName : `lib${objName}.so`;
      throw new UsageError(`process ${pid} maps no ${what}${objName === 'c' ? ' (a static program? name its allocator with -O)' : ''}`);
    }
    // From now on, an exec() of the process drops its old blocks (and with
    // -c stops it, to look again: see exec_seen in memleak.bpf.c).
    obj.attach('exec_seen');
    this.#execs = obj.readGlobalInt('exec_count');
    this.#opts.onAttached?.(pid);
    if (started) process.kill(pid, 'SIGCONT');

    // Keep a copy of the mappings at most a second old (dlopen, and the
    // process may end), notice execs and the end of the process.
    let tick = 0;
    const poll = setInterval(() => {
      if (this.#closed || this.#targetGone) return;
      if (obj.readGlobalInt('exec_count') !== this.#execs && !this.#following) void this.#followExec();
      if (++tick % 25 !== 0 || this.#following) return;
      if (!alive(pid)) this.#exitedResolve();
      else (this.#symbols as ProcessSymbols).snapshot();
    }, 20);
    poll.unref();
    this.#timers.push(poll);
  }

  #attachProbe: ((program: string, binary: string, offset: number, retprobe: boolean) => Link) | undefined;
  #attachedLibs = new Set<string>();
  #execs = 0n;
  #following = false;

  /**
   * Stops the (stopped) target again at `entry` once it has run up to there:
   * attaches `gate`, lets it go, waits for the stop. False if it exited.
   */
  async #gate(entry: { file: string; offset: number }): Promise<boolean> {
    const pid = this.pid!;
    const before = this.#obj.readGlobalInt('gate_hits');
    const gate = this.#attachProbe!('gate', entry.file, entry.offset, false);
    try {
      process.kill(pid, 'SIGCONT');
      return await until(() => this.#obj.readGlobalInt('gate_hits') > before && processState(pid) === 'T', 10_000, () => this.#targetGone);
    } finally {
      gate.detach();
    }
  }

  /** Probes the allocator library the target maps now, unless already probed. False when it maps none. */
  #attachAllocator(): boolean {
    const lib = findAllocator(this.pid!, this.#opts.obj ?? 'c');
    if (!lib) return false;
    const key = lib.inode ? `${lib.dev}:${lib.inode}` : lib.hostPath;
    if (this.#attachedLibs.has(key)) return true;
    const file = readFileSync(lib.hostPath);
    const elf = ElfFile.open(lib.hostPath);
    const text = elf.loadSegments.find((seg) => (seg.flags & 1) !== 0);
    const textBytes = text ? file.subarray(text.offset, text.offset + text.filesz) : undefined;
    const found = USER_FUNCTIONS.map((f) => ({ f, at: uprobeOffset(lib.hostPath, f.name) }));
    const missing = found.filter((x) => !x.at && (x.f.name === 'malloc' || x.f.name === 'free')).map((x) => x.f.name);
    if (missing.length) throw new UsageError(`${lib.path} has no ${missing.join(' or ')}: not an allocator (-O)`);
    for (const { f, at } of found) {
      if (!at) continue;
      let delta = 0;
      let why = 'not x86-64: the entry';
      if (process.arch === 'x64' && at.size > 0) {
        const code = file.subarray(at.start, at.start + at.size);
        const p = findProbePoint(code, { args: f.args, retprobe: !!f.exit }, (from, to) =>
          textBytes ? rel32Targets(textBytes, text!.offset, at.start + from, at.start + to, [at.start, at.start + at.size]) : true,
        );
        delta = p.delta;
        why = p.why;
      }
      this.#attachProbe!(f.enter, lib.hostPath, at.start + delta, false);
      if (f.exit) this.#attachProbe!(f.exit, lib.hostPath, at.start + delta, true);
      this.probes.push({ function: f.name, library: lib.path, offset: at.start, delta, why, retprobe: !!f.exit });
    }
    this.#attachedLibs.add(key);
    this.library ??= lib;
    return true;
  }

  /**
   * The target exec()ed (its blocks were dropped in the kernel). With -c it
   * is stopped at the new program's first instruction: run it to its entry
   * point, read its mappings, probe its allocator if it is another library,
   * let it go. With -p, look a little later, without stopping it.
   */
  async #followExec(): Promise<void> {
    this.#following = true;
    const pid = this.pid!;
    try {
      while (!this.#closed && !this.#targetGone && this.#obj.readGlobalInt('exec_count') !== this.#execs) {
        this.#execs = this.#obj.readGlobalInt('exec_count');
        if (this.#started) {
          if (!(await until(() => processState(pid) === 'T', 2000, () => this.#targetGone))) return;
          const entry = entryPoint(`/proc/${pid}/exe`);
          if (entry && !(await this.#gate({ file: entry.file, offset: entry.offset }))) return;
        } else {
          await sleep(50);
        }
        if (this.#closed || this.#targetGone) return;
        (this.#symbols as ProcessSymbols).snapshot();
        try {
          this.#attachAllocator();
        } catch {
          // a program without a usable allocator: its blocks go unseen
        }
        if (this.#started) process.kill(pid, 'SIGCONT');
      }
    } catch {
      if (this.#started && alive(pid)) process.kill(pid, 'SIGCONT');
    } finally {
      this.#following = false;
    }
  }

  /** Events lost so far. */
  lost(): LostCounts {
    const g = (n: string) => (this.#closed ? 0 : Number(this.#obj.readGlobalInt(n)));
    return { allocs: g('allocs_dropped'), stacks: g('stacks_dropped'), combined: g('combined_dropped'), events: this.trace && !this.#closed ? this.trace.lost().ring : 0 };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True once the traced process has exited (user mode). */
  get targetGone(): boolean {
    return this.#targetGone;
  }

  /** The outstanding allocations now, by stack. */
  report(opts: ReportOptions = {}): Report {
    if (this.#closed) throw new UsageError('memleak is closed');
    if (this.#symbols instanceof ProcessSymbols && !this.#targetGone) this.#symbols.snapshot();
    return this.#opts.combinedOnly ? this.#combinedReport() : this.#allocsReport(opts.olderMs ?? this.#opts.olderMs ?? 500);
  }

  #allocsReport(olderMs: number): Report {
    const time = new Date();
    const now = process.hrtime.bigint();
    const older = BigInt(Math.round(olderMs * 1e6));
    const groups = new Map<bigint, { bytes: number; allocations: number }>();
    const list: Allocation[] | undefined = this.#opts.showAllocs ? [] : undefined;
    let totalBytes = 0;
    let totalAllocations = 0;
    for (const b of this.#obj.map('allocs').batches(8192)) {
      const k = b.keys;
      const v = b.values;
      for (let i = 0; i < b.count; i++) {
        const o = i * 32;
        const ts = v.readBigUInt64LE(o + 8);
        if (now - ts < older) continue; // younger than -o (or made after `now`)
        const size = Number(v.readBigUInt64LE(o));
        const stackId = v.readBigUInt64LE(o + 16);
        let g = groups.get(stackId);
        if (!g) groups.set(stackId, (g = { bytes: 0, allocations: 0 }));
        g.bytes += size;
        g.allocations++;
        totalBytes += size;
        totalAllocations++;
        list?.push({ address: k.readBigUInt64LE(i * 8), size, stackId, ageMs: Number(now - ts) / 1e6 });
      }
    }
    list?.sort((a, b) => a.size - b.size);
    const report = this.#stacks(groups, false, time, totalBytes, totalAllocations);
    if (list) report.allocations = list;
    return report;
  }

  #combinedReport(): Report {
    const time = new Date();
    const groups = new Map<bigint, { bytes: number; allocations: number }>();
    let totalBytes = 0;
    let totalAllocations = 0;
    for (const b of this.#obj.map('combined_allocs').batches(4096)) {
      for (let i = 0; i < b.count; i++) {
        const bytes = Number(b.values.readBigUInt64LE(i * 16));
        const allocations = Number(b.values.readBigUInt64LE(i * 16 + 8));
        if (allocations === 0 && bytes === 0) continue; // all freed
        groups.set(b.keys.readBigUInt64LE(i * 8), { bytes, allocations });
        totalBytes += bytes;
        totalAllocations += allocations;
      }
    }
    return this.#stacks(groups, true, time, totalBytes, totalAllocations);
  }

  #stacks(groups: Map<bigint, { bytes: number; allocations: number }>, combined: boolean, time: Date, totalBytes: number, totalAllocations: number): Report {
    const top = [...groups.entries()]
      .sort((a, b) => b[1].bytes - a[1].bytes || b[1].allocations - a[1].allocations || (a[0] < b[0] ? -1 : 1))
      .slice(0, this.#opts.top ?? 10);
    const stackMap = this.#obj.map('stacks');
    const ips = top.map(([id]) => {
      if (id === 0n) return undefined;
      const v = stackMap.lookup(u64Key(id));
      if (!v) return undefined;
      const nr = Math.min(Number(v.readBigUInt64LE(0)), (v.length - 8) / 8);
      return Array.from({ length: nr }, (_, i) => v.readBigUInt64LE(8 + 8 * i));
    });
    const frames = this.#symbols ? resolveStacks(this.#symbols, ips.map((s) => s ?? []), this.#demangler) : ips.map(() => []);
    const stacks: StackReport[] = top.map(([stackId, g], i) => ({
      stackId,
      bytes: g.bytes,
      allocations: g.allocations,
      frames: ips[i] ? frames[i]! : [],
      lost: !ips[i],
    }));
    return { time, combined, stacks, totalStacks: groups.size, totalBytes, totalAllocations };
  }

  /** A report every `interval` seconds (default 5), `count` times or until close(). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Report, void, undefined> {
    const ms = (this.#opts.interval ?? 5) * 1000;
    for (let n = 0; this.#opts.count === undefined || n < this.#opts.count; n++) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.#wake = undefined;
          resolve();
        }, ms);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      if (this.#closed) return;
      yield this.report();
    }
  }

  /**
   * Detaches every probe at once (concurrently: see BpfObject.detachAll())
   * and frees the maps. A -c command keeps running. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#wake?.();
    this.#closing = (async () => {
      try {
        await this.#obj.detachAll();
      } finally {
        if (this.trace) this.trace.close();
        else this.#obj.close();
        // A -c command stopped at an exec we no longer follow: let it go.
        if (this.#started && alive(this.#started.pid)) process.kill(this.#started.pid, 'SIGCONT');
      }
    })();
    return this.#closing;
  }
}
