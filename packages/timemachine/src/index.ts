// @ebpf/timemachine: a flight recorder for one process.
//
//   import { record } from '@ebpf/timemachine';
//   const rec = await record({ command: ['./server'] });
//   rec.onCrash((crash) => console.log('crashed', crash.signal, crash.address));
//   const w = await rec.crashed;            // the window, saved (rec.savedTo)
//   await rec.close();
//
// The kernel side (timemachine.bpf.c) sends one record per event; this side
// keeps the last seconds of them (window.ts), notices the crash as its record
// arrives, and turns the window into a timeline on demand (model.ts).
import { writeFileSync } from 'node:fs';
import { UsageError, readProcStat, entryPoint, runToGate, findMappedFile, processAlive, startStopped, uprobeMultiSupported, which, type StartedCommand, type BpfObject, type Link, type RingBuffer } from '@ebpf/core';
import { apiOption, checkOptions, custom, int, loadTargetAsync, option, pid, text, type AsyncProgramDef } from '@ebpf/core/kit';
import { Demangler, ElfFile, ProcessSymbols, Reg, placeProbes, resolveStacks } from '@ebpf/core/symbolize';
import { signalName } from '@ebpf/core/signals';
import { basename } from 'node:path';
import { clockFrom, crashFrames, timelineEvent, type Clock, type Crash, type TimelineEvent, type Window } from './model.js';
import { EBPF_USTACK_DEPTH, EV_CRASH, EV_EXIT, EV_FILE, EVENT_OFFSETS as OFF, decodeEvent, type Config } from './timemachine.gen.js';
import { RecordWindow, recordNs } from './window.js';

export * from './model.js';

export interface RecordOptions {
  /** Record this running process. */
  pid?: number;
  /** Or start this command (argv) and record it from its first instruction. */
  command?: string[];
  /** stdio of the command (default 'inherit'). */
  commandStdio?: 'inherit' | 'pipe' | 'ignore';
  /** -f: record entries of the target's own functions whose names match (a regular expression). */
  functions?: string;
  /** Functions probed at most (default 1000). */
  maxFunctions?: number;
  /** Seconds of history kept (default 30). */
  windowSeconds?: number;
  /** Bytes of history kept at most (default 256 MiB). */
  windowBytes?: number;
  /** Record allocations and frees (default true). */
  allocs?: boolean;
  /** Kernel ring buffer size (default 8 MiB). */
  ringBytes?: number;
  /** Where a crash's window is written (default timemachine-PID.json in the working directory; '' to keep it in memory only). */
  output?: string;
  /** Called once recording has started, before a command is let go. */
  onStart?: (pid: number) => void;
}

export const options = {
  functions: option('-f, --functions <PATTERN>', "record entries of the target's functions matching PATTERN (a regular expression)", text()),
  maxFunctions: option('--max-functions <N>', 'probe at most N functions', int(1, 100_000), { default: 1000 }),
  windowSeconds: option('-w, --window <SECONDS>', 'seconds of history kept', int(1, 86_400), { default: 30 }),
  windowBytes: option('-m, --window-mb <MB>', 'megabytes of history kept at most', custom((t) => Number(t) * 2 ** 20, (v, key) => {
    if (typeof v !== 'number' || !(v >= 2 ** 21 && v <= 2 ** 40)) throw new UsageError(`${key} must be from 2 to 1048576 MB`);
    return v;
  }), { default: 256 * 2 ** 20, defaultText: '256' }),
  allocs: option('--no-allocs', 'do not record allocations and frees'),
  output: option('-o, --output <FILE>', 'write the window here on a crash (default timemachine-PID.json)', text()),
  ringBytes: apiOption('kernel ring buffer bytes', int(4096, 2 ** 30)),
  pid: apiOption('the process to record', pid),
  command: apiOption('the command to start', custom((t) => [t], (v, key) => {
    if (Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === 'string')) return v;
    throw new UsageError(`${key} must be a non-empty array of strings`);
  })),
};

/** The allocator's functions: their entry program, whether they return an address, the argument registers read at entry. */
const ALLOC_PROBES = [
  { name: 'malloc', enter: 'malloc_enter', retprobe: true, args: [Reg.rdi] },
  { name: 'calloc', enter: 'calloc_enter', retprobe: true, args: [Reg.rdi, Reg.rsi] },
  { name: 'realloc', enter: 'realloc_enter', retprobe: true, args: [Reg.rdi, Reg.rsi] },
  { name: 'mmap', enter: 'mmap_enter', retprobe: true, args: [Reg.rsi] },
  { name: 'free', enter: 'free_enter', retprobe: false, args: [Reg.rdi] },
  { name: 'munmap', enter: 'munmap_enter', retprobe: false, args: [Reg.rdi, Reg.rsi] },
];

interface Target {
  pid: number;
  started?: StartedCommand;
  /** The program's file: -f's functions are looked up in it. */
  exe: string;
}

/** Checks the options as record() does, before anything is loaded. */
export function check(o: RecordOptions): void {
  checkOptions(options, o, ['commandStdio', 'onStart']);
  if ((o.pid === undefined) === (o.command === undefined)) throw new UsageError('record needs a PID or a command (record -- CMD)');
  if (o.command && !which(o.command[0]!)) throw new UsageError(`cannot run '${o.command[0]}': command not found`);
  if (o.functions !== undefined) {
    try {
      new RegExp(o.functions);
    } catch {
      throw new UsageError(`invalid pattern '${o.functions}'`);
    }
  }
}

const program: AsyncProgramDef<RecordOptions, Target> = {
  name: 'timemachine',
  object: new URL('./timemachine.bpf.o', import.meta.url),
  check,
  programs: (o) => ['sys_enter', 'sys_exit', 'signal_deliver', 'sched_process_exit', ...(o.command ? ['gate'] : []), ...(o.functions ? ['func_entry'] : []), ...(o.allocs === false ? [] : [...ALLOC_PROBES.map((p) => p.enter), 'alloc_return'])],
  target: async (o) => {
    if (o.pid !== undefined) return { pid: o.pid, exe: `/proc/${o.pid}/exe` };
    const started = await startStopped(o.command!, o.commandStdio ?? 'inherit', 'timemachine');
    return { pid: started.pid, started, exe: which(o.command![0]!)! };
  },
  knobs: (o, t) => ({ targ_tgid: t.pid, alloc_stacks: o.allocs !== false }) satisfies Config,
  maps: (o) => ({ events: o.ringBytes ?? 8 << 20 }),
  configure: (spec, o) => {
    if (o.functions) spec.setUprobeMulti('func_entry');
  },
  attach: (obj) => obj.attach(['sys_enter', 'sys_exit', 'signal_deliver', 'sched_process_exit']),
  release: (t) => t.started?.child.kill('SIGKILL'),
};

/** Starts recording; resolves once every probe is attached (a command is then running). */
export async function record(opts: RecordOptions): Promise<Recorder> {
  const { object, target } = await loadTargetAsync(program, opts);
  try {
    const rec = new Recorder(object, target, opts);
    if (target.started) await rec._go(target);
    else opts.onStart?.(target.pid);
    return rec;
  } catch (err) {
    object.close();
    target.started?.child.kill('SIGKILL');
    throw err;
  }
}

export class Recorder {
  readonly pid: number;
  readonly child: StartedCommand['child'] | undefined;
  /** The functions -f probes, by cookie. */
  readonly functions: string[] = [];
  /** Resolves with the saved window when the process crashed (never if it did not). */
  readonly crashed: Promise<Window>;
  /** Resolves with the exit code (status << 8 | signal) when the process has gone. */
  readonly exited: Promise<number>;
  /** Where the crash's window was written. */
  savedTo: string | undefined;
  crash: Crash | undefined;

  readonly #obj: BpfObject;
  readonly #opts: RecordOptions;
  readonly #window: RecordWindow;
  readonly #reader: RingBuffer;
  readonly #symbols: ProcessSymbols;
  readonly #demangler = new Demangler();
  readonly #links: Link[] = [];
  readonly #crashListeners: Array<(c: Crash) => void> = [];
  #crashRec: Buffer | undefined;
  #exitCode: number | undefined;
  #sawExec = false;
  #resolveCrash!: (w: Window) => void;
  #resolveExit!: (code: number) => void;
  #poll: NodeJS.Timeout;
  #closed = false;
  /** When recording started: the zero of every `elapsed`. */
  readonly started!: Window['started'];
  /** CLOCK_MONOTONIC ns → time, elapsed, timestamp. */
  readonly clock!: Clock;

  constructor(obj: BpfObject, t: Target, opts: RecordOptions) {
    this.#obj = obj;
    this.#opts = opts;
    this.pid = t.pid;
    this.child = t.started?.child;
    ({ started: this.started, clock: this.clock } = clockFrom(process.hrtime.bigint(), Date.now()));
    this.#window = new RecordWindow(opts.windowSeconds ?? 30, opts.windowBytes ?? 256 * 2 ** 20);
    this.crashed = new Promise((r) => (this.#resolveCrash = r));
    this.exited = new Promise((r) => (this.#resolveExit = r));
    this.#symbols = new ProcessSymbols(t.pid);
    if (opts.allocs !== false) this.#attachAllocator(t);
    if (opts.functions) this.#attachFunctions(t.exe, new RegExp(opts.functions), opts.maxFunctions ?? 1000);
    this.#reader = obj.ringBuffer('events', (view, offset, length) => {
      this.#window.append(view, offset, length);
      const type = view.getUint32(offset + OFF.type, true);
      if (type === EV_CRASH && !this.#crashRec) this.#crashRec = Buffer.from(new Uint8Array(view.buffer, view.byteOffset + offset, length));
      else if (type === EV_EXIT) this.#exitCode = view.getInt32(offset + OFF.nr, true);
      else if (type === EV_FILE && view.getInt32(offset + OFF.nr, true) === 59 && view.getBigInt64(offset + OFF.ret, true) === 0n) this.#sawExec = true;
    }, { onBatchEnd: () => this.#batchEnd(), intervalMs: 50 }); // drained at least every 50 ms: the crash is said within that
    // The symbols of the code it maps, kept fresh (dlopen) while it runs.
    this.#poll = setInterval(() => {
      // Not once it is ending: maps read while exit unmaps its memory are
      // partial, and would replace the good ones.
      if (this.#live()) this.#symbols.snapshot();
      if (this.#exitCode === undefined && !processAlive(this.pid)) {
        this.#reader.flush(); // its last records (the crash, the exit) first
        this.#exitCode ??= -1;
      }
      this.#batchEnd();
    }, 500);
    this.#poll.unref();
    if (t.started) {
      void t.started.exited.then(() => {
        if (this.#closed) return;
        this.#reader.flush();
        this.#batchEnd();
      });
    }
  }

  /** @internal Lets the command run: the shell execs it, it stops at its entry point (see gate in the .bpf.c), its mappings are read, it goes on. */
  async _go(t: Target): Promise<void> {
    const entry = entryPoint(t.exe);
    let gone = false;
    void t.started!.exited.then(() => (gone = true));
    if (entry) {
      await runToGate(this.#obj, t.pid, () => this.#obj.attachUprobe('gate', { binary: entry.file, offset: entry.offset, pid: t.pid }), () => gone);
      this.#symbols.snapshot();
    }
    this.#opts.onStart?.(t.pid);
    if (!gone) process.kill(t.pid, 'SIGCONT');
  }

  #attachAllocator(t: Target): void {
    const lib = findMappedFile(t.pid, (p) => basename(p).startsWith('libc.so'));
    if (!lib) throw new UsageError(`process ${t.pid} maps no libc.so (a static program?): run with --no-allocs`);
    // Past a single-stepped first instruction where that is safe (free()'s
    // `test %rdi,%rdi`): memleak's probe placement, in core.
    for (const p of placeProbes(lib.hostPath, ALLOC_PROBES)) {
      const probe = ALLOC_PROBES.find((x) => x.name === p.name)!;
      this.#links.push(this.#obj.attachUprobe(probe.enter, { binary: lib.hostPath, offset: p.offset, pid: t.pid }));
      // The return probe goes on the entry: the kernel finds the return address at [%rsp] there.
      if (probe.retprobe) this.#links.push(this.#obj.attachUprobe('alloc_return', { binary: lib.hostPath, offset: p.start, pid: t.pid, retprobe: true }));
    }
  }

  #attachFunctions(exe: string, re: RegExp, max: number): void {
    const elf = ElfFile.open(exe);
    const table = elf.symbols();
    const offsets: number[] = [];
    const seen = new Set<string>();
    // Functions: symbols in an executable segment (the table has data objects too).
    const code = elf.loadSegments.filter((s) => s.flags & 1);
    const inCode = (a: bigint): boolean => code.some((s) => a >= s.vaddr && a < s.vaddr + BigInt(s.memsz));
    for (let i = 0; i < table.length && offsets.length < max; i++) {
      const name = table.name(i);
      if (seen.has(name) || !re.test(name) || !inCode(table.address(i))) continue;
      const off = elf.vaddrToFileOffset(table.address(i));
      if (off === undefined || (table.size(i) ?? 0) === 0) continue;
      seen.add(name);
      this.functions.push(name);
      offsets.push(off);
    }
    if (offsets.length === 0) throw new UsageError(`no function of ${exe} matches '${re.source}'`);
    if (!uprobeMultiSupported()) throw new UsageError('-f needs uprobe_multi links (Linux 6.6+)');
    this.#links.push(this.#obj.attachUprobeMulti('func_entry', { binary: exe, offsets, cookies: offsets.map((_, i) => i), pid: this.pid }));
  }

  #batchEnd(): void {
    if (this.#sawExec) {
      this.#sawExec = false;
      if (this.#live()) this.#symbols.snapshot(); // the new program's code
    }
    this.#window.trim(Number(process.hrtime.bigint()));
    if (this.#crashRec && !this.crash) {
      const view = new DataView(this.#crashRec.buffer, this.#crashRec.byteOffset, this.#crashRec.length);
      const e = decodeEvent(view, 0, this.#crashRec.length);
      const { walked, scanned } = crashFrames(e);
      const [w, sc] = resolveStacks(this.#symbols, [walked, scanned], this.#demangler);
      // Scanned words that name no function, or repeat a walked frame, are left out.
      const extra = sc!.filter((f, i) => f.name !== undefined && !walked.includes(f.address) && sc!.findIndex((g) => g.address === f.address) === i);
      const frames = [...w!.map((f) => f.text), ...extra.map((f) => `${f.text} (scanned)`)];
      this.#setCrash({ ...crashOf(timelineEvent(e, this.clock, this.functions)), signalNumber: e.nr, frames });
    }
    if (this.#exitCode !== undefined && !this.#closed && this.#exitCode !== -2) {
      const code = this.#exitCode;
      this.#exitCode = -2;
      // Died by a signal that dumps core, but no delivery was seen (we attached late): still a crash.
      if (!this.crash && code > 0 && [3, 4, 5, 6, 7, 8, 11, 31].includes(code & 0x7f)) {
        this.#setCrash({ ...this.clock(process.hrtime.bigint()), pid: this.pid, tid: this.pid, signal: signalName(code & 0x7f) ?? String(code & 0x7f), signalNumber: code & 0x7f, code: 0, frames: [], seen: 'exit' });
      }
      if (this.crash) {
        const w = this.window('crash');
        if (this.#opts.output !== '') this.savedTo = this.save(this.#opts.output ?? `timemachine-${this.pid}.json`, w);
        this.#resolveCrash(w);
      }
      this.#resolveExit(code);
    }
  }

  /** Not crashed, not exiting: its mappings are whole. */
  #live(): boolean {
    return !this.#crashRec && this.#exitCode === undefined && !exiting(this.pid);
  }

  #setCrash(c: Crash): void {
    this.crash = c;
    for (const l of this.#crashListeners) l(c);
  }

  /** Calls `fn` as soon as the crash is seen (before the window is saved). */
  onCrash(fn: (c: Crash) => void): void {
    if (this.crash) fn(this.crash);
    else this.#crashListeners.push(fn);
  }


  /** Events lost so far. */
  lost(): Window['lost'] {
    return { ring: this.#reader.lost(), evicted: this.#window.evicted, stacks: this.#closed ? 0 : Number(this.#obj.readGlobalInt('stacks_dropped')) };
  }

  /** Records held in the window now. */
  get held(): number {
    return this.#window.size;
  }

  /** The window as it is now, decoded and symbolized. */
  window(reason: Window['reason'] = 'request'): Window {
    if (!this.#closed) this.#reader.flush();
    const events: TimelineEvent[] = [];
    const stackIds = new Set<bigint>();
    this.#window.forEach((view, offset, length) => {
      const e = decodeEvent(view, offset, length);
      if (e.stack_id) stackIds.add(e.stack_id);
      events.push(timelineEvent(e, this.clock, this.functions));
    });
    events.sort((a, b) => a.elapsed - b.elapsed);
    const stacks: Record<string, string[]> = {};
    if (!this.#closed) {
      const map = this.#obj.map('stacks');
      const ids = [...stackIds];
      const addrs = ids.map((id) => {
        const key = Buffer.alloc(8);
        key.writeBigUInt64LE(id);
        const v = map.lookup(key);
        if (!v) return [];
        const nr = Math.min(Number(v.readBigUInt64LE(0)), EBPF_USTACK_DEPTH);
        return Array.from({ length: nr }, (_, i) => v.readBigUInt64LE(8 + i * 8));
      });
      resolveStacks(this.#symbols, addrs, this.#demangler).forEach((fr, i) => (stacks[`0x${ids[i]!.toString(16)}`] = fr.map((f) => f.text)));
    }
    return {
      version: 1, pid: this.pid, ...(this.#opts.command ? { command: this.#opts.command.join(' ') } : {}), reason, savedAt: new Date().toISOString(), started: this.started,
      windowSeconds: this.#opts.windowSeconds ?? 30, lost: this.lost(), ...(this.crash ? { crash: this.crash } : {}), events, stacks,
    };
  }

  /** Writes the window (now, or `w`) to `file`; returns the file. */
  save(file: string, w: Window = this.window('request')): string {
    writeFileSync(file, JSON.stringify(w));
    return file;
  }

  /** Detaches everything; a command started by record() is killed if still running. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#poll);
    this.#reader.close();
    this.#closed = true;
    for (const l of this.#links) l.detach();
    this.#obj.close();
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** PF_EXITING (0x4) in /proc/PID/stat's flags: the process has begun to exit (or is gone). */
function exiting(pid: number): boolean {
  const st = readProcStat(pid);
  return !st || (Number(st.field(9)) & 0x4) !== 0;
}

function crashOf(e: TimelineEvent): Omit<Crash, 'frames'> {
  const sig = e.name;
  return { time: e.time, elapsed: e.elapsed, timestamp: e.timestamp, pid: e.pid, tid: e.tid, signal: sig, signalNumber: 0, code: Number(/si_code=(-?\d+)/.exec(e.details)?.[1] ?? 0), ...(e.address ? { address: e.address } : {}), ...(e.sentBy !== undefined ? { sentBy: e.sentBy } : {}), seen: 'signal' };
}

export { recordNs };
