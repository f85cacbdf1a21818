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
import { readFileSync } from 'node:fs';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { Tracer, UsageError, processAlive, processState, readComm, runToGate, u64Key, uprobeMultiSupported, type BpfObject, type Link } from '@ebpf/core';
import { containerOptions, type ContainerOptions, Periodic, apiOption, checkOptions, custom, int, loadTargetAsync, option, pid, text, type AsyncProgramDef } from '@ebpf/core/kit';
import { Demangler, ElfFile, KernelSymbolizer, ProcessSymbols, resolveStacks, uprobeOffset, type Frame, type Symbolizer } from '@ebpf/core/symbolize';
import { Reg, findProbePoint, rel32Targets } from './attach-point.js';
import {
  ALLOC_INFO_OFFSETS as ALLOC,
  ALLOC_INFO_SIZE,
  COMBINED_INFO_OFFSETS as COMBINED,
  COMBINED_INFO_SIZE,
  EV_ALLOC_ENTER,
  EV_ALLOC_EXIT,
  MAX_STACK_DEPTH,
  EBPF_USTACK_OFFSETS as STACK_OFFSETS,
  decodeEvent,
  type Config,
} from './memleak.gen.js';
import { entryPoint, findAllocator, sleep, splitCommand, startStopped, until, which, type AllocatorLibrary, type StartedCommand } from './target.js';

export type { Frame } from '@ebpf/core/symbolize';
export type { AllocatorLibrary } from './target.js';

export interface MemleakOptions extends ContainerOptions {
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
  /** Reports the async iterator yields before it ends and memleak closes (default: until close()). */
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
const KERNEL_PROGRAMS = ['kmalloc', 'kmem_cache_alloc', 'kfree', 'kmem_cache_free', 'mm_page_alloc', 'mm_page_free'];
/** The NUMA-node variants older kernels trace apart: loaded where they exist. */
const NODE_PROGRAMS = ['kmalloc_node', 'kmem_cache_alloc_node'];
const PERCPU_PROGRAMS = ['percpu_alloc', 'percpu_free'];

/** -c: a command line (split as BCC splits it), or from the API its argv. */
const commandLine = custom<string | string[]>(
  (t) => t,
  (v, key) => {
    if (typeof v === 'string' || (Array.isArray(v) && v.every((a) => typeof a === 'string'))) return v;
    throw new UsageError(`${key} must be a string or an array of strings`);
  },
);
const bytes = int(0, 2 ** 53);

/** memleak's options, in BCC's order: the API's keys, with their CLI flags. */
export const options = {
  pid: option('-p, --pid <PID>', 'the PID to trace; if not specified, trace kernel allocs', pid),
  trace: option('-t, --trace', 'print trace messages for each alloc/free call'),
  showAllocs: option('-a, --show-allocs', 'show allocation addresses and sizes as well as call stacks'),
  olderMs: option('-o, --older <OLDER>', 'prune allocations younger than this age in milliseconds', int(0, 2 ** 40), { default: 500 }),
  command: option('-c, --command <COMMAND>', 'execute and trace the specified command', commandLine),
  combinedOnly: option('--combined-only', 'show combined allocation statistics only'),
  waMissingFree: option('--wa-missing-free', 'Workaround to alleviate misjudgments when free is missing (always on here)'),
  sampleRate: option('-s, --sample-rate <SAMPLE_RATE>', 'sample every N-th allocation to decrease the overhead', int(1, 0xffffffff), { default: 1 }),
  top: option('-T, --top <TOP>', 'display only this many top allocating stacks (by size)', int(1, 1 << 20), { default: 10 }),
  minSize: option('-z, --min-size <MIN_SIZE>', 'capture only allocations larger than this size', bytes),
  maxSize: option('-Z, --max-size <MAX_SIZE>', 'capture only allocations smaller than this size', bytes),
  obj: option('-O, --obj <OBJ>', 'attach to allocator functions in the specified object', text(), { default: 'c', defaultText: '"c"' }),
  percpu: option('--percpu', 'trace percpu allocations'),
  maxAllocations: apiOption('live allocations tracked at most', int(1, 1 << 28)),
  stackStorageSize: apiOption('distinct stacks stored at most', int(1, 1 << 24)),
  uprobeMulti: apiOption('uprobe_multi links'),
  ...containerOptions,
};

const isUser = (o: MemleakOptions): boolean => o.pid !== undefined || o.command !== undefined;

/** The command's argv (with `command`); a UsageError when there is none to run. */
function commandArgv(o: MemleakOptions): string[] | undefined {
  if (o.command === undefined) return undefined;
  const argv = typeof o.command === 'string' ? splitCommand(o.command) : [...o.command];
  if (argv.length === 0) throw new UsageError('the command (-c) is empty');
  if (!which(argv[0]!)) throw new UsageError(`cannot run '${argv[0]}': command not found`);
  return argv;
}

/**
 * Checks every option as memleak() does first, before anything is loaded or
 * started: throws a UsageError naming what is wrong.
 */
export function check(o: MemleakOptions): void {
  if (o.pid !== undefined && o.command !== undefined) throw new UsageError('-p and -c cannot be used together');
  checkOptions(options, o, ['commandStdio', 'interval', 'count', 'onAttached']);
  if (o.pid !== undefined && !processAlive(o.pid)) throw new UsageError(`no process ${o.pid}`);
  if (o.interval !== undefined && !(o.interval > 0 && Number.isFinite(o.interval))) throw new UsageError(`interval must be a positive number of seconds, got ${o.interval}`);
  if (o.count !== undefined && !(Number.isSafeInteger(o.count) && o.count >= 1)) throw new UsageError(`count must be a positive integer, got ${o.count}`);
  if (o.minSize !== undefined && o.maxSize !== undefined && o.minSize > o.maxSize) {
    throw new UsageError("min_size (-z) can't be greater than max_size (-Z)");
  }
  if (o.percpu && isUser(o)) throw new UsageError('--percpu traces kernel allocations: it cannot be combined with -p or -c');
  if (o.obj !== undefined && (o.obj === '' || o.obj.includes('\n'))) throw new UsageError(`invalid object name '${o.obj}'`);
  if (o.obj !== undefined && !isUser(o)) throw new UsageError('-O names a user-space library: it needs -p or -c');
  commandArgv(o);
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

/** What is traced: found once preflight has passed. */
interface Target {
  /** The traced process (user mode). */
  pid: number | undefined;
  /** -c: the command, started and held stopped before it runs anything. */
  started: StartedCommand | undefined;
  /** Uprobes as uprobe_multi links (else perf-event uprobes). */
  multi: boolean;
}

const program: AsyncProgramDef<MemleakOptions, Target> = {
  name: 'memleak',
  object: new URL('./memleak.bpf.o', import.meta.url),
  check,
  programs: (o) => (isUser(o) ? [...USER_PROGRAMS, 'exec_seen'] : o.percpu ? PERCPU_PROGRAMS : [...KERNEL_PROGRAMS, ...NODE_PROGRAMS]),
  optional: NODE_PROGRAMS,
  target: async (o) => {
    const argv = commandArgv(o);
    const started = argv && (await startStopped(argv, o.commandStdio ?? 'inherit'));
    const pid = started?.pid ?? o.pid;
    return { pid, started, multi: pid !== undefined && (o.uprobeMulti ?? uprobeMultiSupported()) };
  },
  knobs: (o, t) =>
    ({
      targ_tgid: t.pid ?? 0,
      min_size: BigInt(o.minSize ?? 0),
      max_size: o.maxSize === undefined ? (1n << 64n) - 1n : BigInt(o.maxSize),
      sample_rate: o.sampleRate ?? 1,
      trace_all: !!o.trace,
      page_shift: pageShift(),
      stop_on_exec: t.started !== undefined,
    }) satisfies Config,
  maps: (o) => {
    const stacks = o.stackStorageSize ?? 10240;
    return { allocs: o.maxAllocations ?? 1_000_000, stacks, combined_allocs: stacks + 1, events: o.trace ? 1 << 20 : 4096 };
  },
  configure: (spec, _o, t) => {
    if (t.multi) for (const p of USER_PROGRAMS) spec.setUprobeMulti(p);
  },
  // Kernel mode: the tracepoints by their SEC(); user mode: Memleak places the uprobes.
  attach: (obj, _o, t) => {
    if (t.pid === undefined) obj.attach();
  },
  release: (t) => t.started?.child.kill('SIGKILL'),
};

/**
 * Starts tracing; resolves once every probe is attached (with `command`,
 * the command is then running). Throws a UsageError for bad options, a
 * PreflightError when the machine cannot trace.
 */
export async function memleak(opts: MemleakOptions = {}): Promise<Memleak> {
  const { object, target } = await loadTargetAsync(program, opts);
  return Memleak._attach(object, target, opts);
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
  /**
   * The reports, as the kit's Periodic: every `interval` seconds from the
   * first `for await` (`count` of them, then it closes), on demand, and a
   * last one at its close() (the CLI's final report), which counts every
   * block, however young, once the traced process has exited.
   */
  readonly reports: Periodic<Report, ReportOptions>;

  readonly #obj: BpfObject;
  readonly #opts: MemleakOptions;
  readonly #started: StartedCommand | undefined;
  readonly #attachProbe: (program: string, binary: string, offset: number, retprobe: boolean) => Link;
  #symbols: Symbolizer;
  readonly #demangler = new Demangler();
  #closing: Promise<void> | undefined;
  #poll: NodeJS.Timeout | undefined;
  #exitedResolve!: () => void;
  #targetGone = false;
  #lostAtClose: LostCounts | undefined;
  #attachedLibs = new Set<string>();
  #execs = 0n;
  #following = false;

  private constructor(obj: BpfObject, t: Target, opts: MemleakOptions) {
    this.#obj = obj;
    this.#opts = opts;
    this.pid = t.pid;
    this.mode = t.pid === undefined ? 'kernel' : 'user';
    this.#started = t.started;
    this.child = t.started?.child;
    this.#symbols = new KernelSymbolizer();
    this.#attachProbe = (program, binary, offset, retprobe) =>
      t.multi
        ? obj.attachUprobeMulti(program, { binary, offsets: [offset], pid: t.pid, retprobe })
        : obj.attachUprobe(program, { binary, offset, pid: t.pid, retprobe });
    this.targetExited = new Promise((r) => (this.#exitedResolve = r));
    void this.targetExited.then(() => (this.#targetGone = true));
    if (t.started) void t.started.exited.then(() => this.#exitedResolve());
    if (opts.trace) {
      this.trace = new Tracer<TraceEvent>({
        object: obj,
        rings: ['events'],
        decode: (view, offset, length) => {
          const e = decodeEvent(view, offset, length);
          const kind = e.kind === EV_ALLOC_ENTER ? 'alloc-enter' : e.kind === EV_ALLOC_EXIT ? 'alloc-exit' : 'free';
          return { kind, timestamp: e.ts, pid: e.pid, tid: e.tid, cpu: e.cpu, comm: e.comm, size: Number(e.size), address: e.addr };
        },
      });
    }
    this.reports = new Periodic<Report, ReportOptions>({
      object: obj,
      take: (_start, _end, arg, closing) => this.#report(arg?.olderMs ?? (closing && this.#targetGone ? 0 : (opts.olderMs ?? 500))),
      intervalMs: Math.max(1, Math.round((opts.interval ?? 5) * 1000)),
      count: opts.count,
      lazy: true,
      lost: () => this.trace?.lost().ring ?? 0,
      onClose: () => this.#release(),
    });
  }

  /** @internal use memleak() */
  static async _attach(obj: BpfObject, t: Target, opts: MemleakOptions): Promise<Memleak> {
    const ml = new Memleak(obj, t, opts);
    try {
      if (t.pid === undefined) {
        opts.onAttached?.(undefined);
        (ml.#symbols as KernelSymbolizer).load(); // kallsyms is read now, so the first report (maybe the final one) is quick
      } else await ml.#attachUser(t.pid);
    } catch (err) {
      ml.reports.stop();
      t.started?.child.kill('SIGKILL');
      throw err;
    }
    return ml;
  }

  async #attachUser(pid: number): Promise<void> {
    const started = this.#started;
    const obj = this.#obj;
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
    this.#poll = setInterval(() => {
      if (this.closed || this.#targetGone) return;
      if (obj.readGlobalInt('exec_count') !== this.#execs && !this.#following) void this.#followExec();
      if (++tick % 25 !== 0 || this.#following) return;
      if (!processAlive(pid)) this.#exitedResolve();
      else (this.#symbols as ProcessSymbols).snapshot();
    }, 20);
    this.#poll.unref();
  }

  /**
   * Stops the (stopped) target again at `entry` once it has run up to there:
   * attaches `gate`, lets it go, waits for the stop. False if it exited.
   */
  async #gate(entry: { file: string; offset: number }): Promise<boolean> {
    return runToGate(this.#obj, this.pid!, () => this.#attachProbe('gate', entry.file, entry.offset, false), () => this.#targetGone);
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
      this.#attachProbe(f.enter, lib.hostPath, at.start + delta, false);
      if (f.exit) this.#attachProbe(f.exit, lib.hostPath, at.start + delta, true);
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
      while (!this.closed && !this.#targetGone && this.#obj.readGlobalInt('exec_count') !== this.#execs) {
        this.#execs = this.#obj.readGlobalInt('exec_count');
        if (this.#started) {
          if (!(await until(() => processState(pid) === 'T', 2000, () => this.#targetGone))) return;
          const entry = entryPoint(`/proc/${pid}/exe`);
          if (entry && !(await this.#gate({ file: entry.file, offset: entry.offset }))) return;
        } else {
          await sleep(50);
        }
        if (this.closed || this.#targetGone) return;
        (this.#symbols as ProcessSymbols).snapshot();
        try {
          this.#attachAllocator();
        } catch {
          // a program without a usable allocator: its blocks go unseen
        }
        if (this.#started) process.kill(pid, 'SIGCONT');
      }
    } catch {
      if (this.#started && processAlive(pid)) process.kill(pid, 'SIGCONT');
    } finally {
      this.#following = false;
    }
  }

  /** Events lost so far (at close, the last counts). */
  lost(): LostCounts {
    if (this.#lostAtClose) return this.#lostAtClose;
    const g = (n: string) => Number(this.#obj.readGlobalInt(n));
    return { allocs: g('allocs_dropped'), stacks: g('stacks_dropped'), combined: g('combined_dropped'), events: this.trace?.lost().ring ?? 0 };
  }

  get closed(): boolean {
    return this.reports.closed;
  }

  /** True once the traced process has exited (user mode). */
  get targetGone(): boolean {
    return this.#targetGone;
  }

  /** The outstanding allocations now, by stack. */
  report(opts: ReportOptions = {}): Report {
    return this.reports.snapshot(opts);
  }

  #report(olderMs: number): Report {
    if (this.#symbols instanceof ProcessSymbols && !this.#targetGone) this.#symbols.snapshot();
    return this.#opts.combinedOnly ? this.#combinedReport() : this.#allocsReport(olderMs);
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
        const o = i * ALLOC_INFO_SIZE;
        const ts = v.readBigUInt64LE(o + ALLOC.timestamp_ns);
        if (now - ts < older) continue; // younger than -o (or made after `now`)
        const size = Number(v.readBigUInt64LE(o + ALLOC.size));
        const stackId = v.readBigUInt64LE(o + ALLOC.stack_id);
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
        const o = i * COMBINED_INFO_SIZE;
        const bytes = Number(b.values.readBigUInt64LE(o + COMBINED.total_size));
        const allocations = Number(b.values.readBigUInt64LE(o + COMBINED.number_of_allocs));
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
      const nr = Math.min(Number(v.readBigUInt64LE(STACK_OFFSETS.nr)), MAX_STACK_DEPTH);
      return Array.from({ length: nr }, (_, i) => v.readBigUInt64LE(STACK_OFFSETS.ips + 8 * i));
    });
    const frames = resolveStacks(this.#symbols, ips.map((s) => s ?? []), this.#demangler);
    const stacks: StackReport[] = top.map(([stackId, g], i) => ({
      stackId,
      bytes: g.bytes,
      allocations: g.allocations,
      frames: ips[i] ? frames[i]! : [],
      lost: !ips[i],
    }));
    return { time, combined, stacks, totalStacks: groups.size, totalBytes, totalAllocations };
  }

  /** A report every `interval` seconds (default 5), `count` times (then it closes) or until close(). */
  [Symbol.asyncIterator](): AsyncIterator<Report> {
    return this.reports[Symbol.asyncIterator]();
  }

  /** Runs as the reports close, while the maps are still open. */
  #release(): void {
    if (this.#poll) clearInterval(this.#poll);
    this.#lostAtClose = this.lost();
    this.trace?.close();
    // A -c command stopped at an exec we no longer follow: let it go.
    if (this.#started && processAlive(this.#started.pid)) process.kill(this.#started.pid, 'SIGCONT');
  }

  /**
   * Detaches every probe at once (concurrently: see BpfObject.detachAll())
   * and frees the maps. A -c command keeps running. Idempotent.
   */
  close(): Promise<void> {
    if (this.#poll) clearInterval(this.#poll);
    this.#closing ??= (async () => {
      try {
        await this.#obj.detachAll();
      } finally {
        this.reports.stop();
      }
    })();
    return this.#closing;
  }
}
