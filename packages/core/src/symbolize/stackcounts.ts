// The user-space half of the stack report tools (profile, offcputime): the
// BPF side counts (or sums) into a `counts` hash keyed by who and which
// stacks, the stacks themselves stored once by hash in a `stacks` map
// (ebpf/ustack.h), and a `counts_full` global for what found no room. This
// drains the counts of one report, reads each stack once, symbolizes the
// kernel stacks all at once and the user stacks process by process (with
// symbols kept past a process's exit), and counts what could not be shown.
import type { BpfObject } from '../bpf/object.js';
import { u64Key, type BpfMap } from '../bpf/map.js';
import { processAlive } from '../kernel/procfs.js';
import { KernelSymbolizer, type Symbolizer } from './kernel.js';
import { WithPerfMap } from './perfmap.js';
import { Demangler, ProcessSymbols, resolveStacks, type Frame } from './stacks.js';

/** A counted stack's frames, as the reports give them. */
export interface StackFrames {
  /** The stack could not be stored (BCC: "[Missed Kernel Stack]" / "[Missed User Stack]"). */
  kernelMissed: boolean;
  userMissed: boolean;
  /** Innermost first; undefined when kernel stacks were not collected; [] when there is none or it was missed. */
  kernelFrames?: Frame[];
  /** Innermost first; undefined when user stacks were not collected; [] for kernel threads or when missed. */
  userFrames?: Frame[];
}

/** What a key of `counts` must hold (the generated decoder's field names). */
export interface StackKey {
  kern_stack_id: bigint;
  user_stack_id: bigint;
}

/** The stack ids that are not hashes (the .bpf.c's STACK_NONE, STACK_SKIPPED, STACK_MISSED) and the stack map's layout. */
export interface StackIds {
  /** There is no such stack (a kernel thread's user stack). */
  none: number;
  /** Not collected (-U / -K). */
  skipped: number;
  /** Not stored: the stack map was full, or the walk failed. */
  missed: number;
  /** struct ebpf_ustack's offsets (the generated EBPF_USTACK_OFFSETS) and frames per stack. */
  offsets: { nr: number; ips: number };
  depth: number;
}

export interface StackCountsOptions<K extends StackKey> {
  /** Decodes a key of `counts` (the generated decoder). */
  decodeKey: (view: DataView, offset: number, length: number) => K;
  /** The process whose symbols name a key's user stack. */
  tgidOf: (key: K) => number;
  ids: StackIds;
  /** -p: that process's mappings are read now and every second, so a report after it exited still names its functions. */
  pid?: number;
  /** User frames no symbol covers are looked up in /tmp/perf-PID.map (JIT code). */
  perfMaps?: boolean;
  /** Kernel frames matching this at the top of a stack are left out (the tracing machinery's own, when the stack is walked inside the program). */
  tracingFrame?: RegExp;
  /** Stacks read for a report are deleted from the map, freeing room for the next period's. */
  freeStacks?: boolean;
}

/** One key of a report: its decoded key, its value (the count or sum), its frames. */
export interface StackCount<K> {
  key: K;
  value: number;
  frames: StackFrames;
}

export interface StackCountsTake<K> {
  counts: Array<StackCount<K>>;
  /** Stacks that could not be shown (BCC's "stack traces lost"). */
  missedStacks: number;
  /** Events not counted since the previous take: the counts map was full. */
  dropped: number;
  /** The counts whose user stacks were symbolized, in the order they were (process by process). */
  userResolved: Array<StackCount<K>>;
}

export class StackCounts<K extends StackKey> {
  readonly #obj: BpfObject;
  readonly #counts: BpfMap;
  readonly #stacks: BpfMap;
  readonly #opts: StackCountsOptions<K>;
  readonly #kernel = new KernelSymbolizer();
  readonly #demangler = new Demangler();
  readonly #procs = new Map<number, Symbolizer & { snapshot(): unknown }>();
  readonly #poll: NodeJS.Timeout | undefined;
  #droppedBefore = 0n;

  /** Once the program is loaded (its own frames then have names, to be left out). */
  constructor(obj: BpfObject, opts: StackCountsOptions<K>) {
    this.#obj = obj;
    this.#counts = obj.map('counts');
    this.#stacks = obj.map('stacks');
    this.#opts = opts;
    this.#kernel.load();
    const pid = opts.pid;
    if (pid !== undefined) {
      this.#symbolsOf(pid);
      this.#poll = setInterval(() => this.#symbolsOf(pid).snapshot(), 1000).unref();
    }
  }

  #symbolsOf(tgid: number): Symbolizer & { snapshot(): unknown } {
    let s = this.#procs.get(tgid);
    if (!s) {
      const own = new ProcessSymbols(tgid);
      s = this.#opts.perfMaps ? new WithPerfMap(own, tgid) : own;
      this.#procs.set(tgid, s);
    }
    return s;
  }

  /** Drains the counts: every key with its value and frames (in the map's order: the caller sorts). */
  take(): StackCountsTake<K> {
    const { ids, decodeKey } = this.#opts;
    const stackMap = this.#stacks;
    const [none, skipped, missed] = [BigInt(ids.none), BigInt(ids.skipped), BigInt(ids.missed)];
    const read = new Map<bigint, bigint[] | undefined>();
    const stackOf = (id: bigint): bigint[] | undefined => {
      if (!read.has(id)) {
        const v = stackMap.lookup(u64Key(id));
        const nr = v ? Math.min(Number(v.readBigUInt64LE(ids.offsets.nr)), ids.depth) : 0;
        read.set(id, v && Array.from({ length: nr }, (_, i) => v.readBigUInt64LE(ids.offsets.ips + 8 * i)));
      }
      return read.get(id);
    };
    let missedStacks = 0;
    // One side of a key: its addresses; [] when there is none or it was
    // missed; undefined when not collected.
    const side = (id: bigint, f: StackFrames, which: 'kernelMissed' | 'userMissed'): bigint[] | undefined => {
      if (id === skipped) return undefined;
      if (id === none) return [];
      const st = id === missed ? undefined : stackOf(id);
      if (!st) {
        missedStacks++;
        f[which] = true;
      }
      return st ?? [];
    };
    const rows: Array<{ c: StackCount<K>; k?: bigint[]; u?: bigint[] }> = [];
    for (const [k, v] of this.#counts.drain(4096)) {
      const key = decodeKey(new DataView(k.buffer, k.byteOffset, k.length), 0, k.length);
      const frames: StackFrames = { kernelMissed: false, userMissed: false };
      rows.push({ c: { key, value: Number(v.readBigUInt64LE(0)), frames }, k: side(key.kern_stack_id, frames, 'kernelMissed'), u: side(key.user_stack_id, frames, 'userMissed') });
    }
    if (this.#opts.freeStacks) for (const [id, st] of read) if (st) stackMap.delete(u64Key(id));
    // Kernel stacks all at once; user stacks by process, with its symbols.
    const withK = rows.filter((r) => r.k);
    const skip = this.#opts.tracingFrame;
    resolveStacks(this.#kernel, withK.map((r) => r.k!), this.#demangler).forEach((fs, i) => {
      let n = 0;
      if (skip) while (n < fs.length && skip.test(fs[n]!.name ?? '')) n++;
      withK[i]!.c.frames.kernelFrames = n ? fs.slice(n) : fs;
    });
    const byTgid = new Map<number, typeof rows>();
    for (const r of rows) {
      if (!r.u) continue;
      r.c.frames.userFrames = [];
      const tgid = this.#opts.tgidOf(r.c.key);
      byTgid.get(tgid)?.push(r) ?? byTgid.set(tgid, [r]);
    }
    const userResolved: Array<StackCount<K>> = [];
    for (const [tgid, list] of byTgid) {
      const walked = list.filter((r) => r.u!.length > 0);
      if (!walked.length || tgid === 0) continue; // pid 0, the idle task, has no user space
      const sym = this.#symbolsOf(tgid);
      if (processAlive(tgid)) sym.snapshot();
      resolveStacks(sym, walked.map((r) => r.u!), this.#demangler).forEach((fs, i) => {
        walked[i]!.c.frames.userFrames = fs;
        userResolved.push(walked[i]!.c);
      });
    }
    const droppedNow = this.#obj.readGlobalInt('counts_full');
    const dropped = Number(droppedNow - this.#droppedBefore);
    this.#droppedBefore = droppedNow;
    return { counts: rows.map((r) => r.c), missedStacks, dropped, userResolved };
  }

  /** Stops following the -p process. */
  stop(): void {
    clearInterval(this.#poll);
  }
}
