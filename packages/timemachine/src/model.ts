// What a window is once decoded: the timeline events, the crash, the stacks,
// as saved to a file and read back by `rewind`; and the memory analysis.
import { openFlagNames } from '@ebpf/core';
import { signalName } from '@ebpf/core/signals';
import { syscallName } from '@ebpf/syscount';
import { CRASH_FRAMES, SCAN_FRAMES, AK_CALLOC, AK_MALLOC, AK_MMAP, AK_MUNMAP, AK_REALLOC, EV_ALLOC, EV_CRASH, EV_EXIT, EV_FILE, EV_FREE, EV_FUNC, EV_SIGNAL, EV_SYSCALL, type Event } from './timemachine.gen.js';

export type EventType = 'FUNC_ENTRY' | 'ALLOC' | 'FREE' | 'SYSCALL' | 'FILE' | 'SIGNAL' | 'CRASH' | 'EXIT';

/** When an event happened, as every tool's JSON has it. */
export interface When {
  /** Wall clock, ISO 8601 UTC. */
  time: string;
  /** Seconds since recording started (ns resolution). */
  elapsed: number;
  /** CLOCK_MONOTONIC ns (process.hrtime.bigint()'s clock), a decimal string. */
  timestamp: string;
}

/** Converts a record's CLOCK_MONOTONIC ns into When. */
export type Clock = (ns: bigint) => When;

/** One event of the timeline. */
export interface TimelineEvent extends When {
  pid: number;
  tid: number;
  type: EventType;
  /** The syscall, allocator function, function, or signal. */
  name: string;
  /** ALLOC/FREE: the block; FUNC_ENTRY: the function; CRASH/SIGNAL: si_addr (hex) of a fault. */
  address?: string;
  /** CRASH/SIGNAL of a fault signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE) sent by a process (si_code <= 0: kill(), tgkill(), sigqueue()), not raised by a fault: the sender's pid, 0 when not known. */
  sentBy?: number;
  details: string;
  /** ALLOC: bytes asked for; FREE (munmap): bytes unmapped. */
  size?: number;
  /** SYSCALL/FILE: the return value. */
  ret?: number;
  /** SYSCALL/FILE: µs from entry to exit. */
  durationUs?: number;
  /** FILE: the path. */
  path?: string;
  /** ALLOC by realloc: the block it replaced. */
  from?: string;
  /** ALLOC/FREE: key into Window.stacks. */
  stack?: string;
}

export interface Crash extends When {
  pid: number;
  tid: number;
  signal: string;
  signalNumber: number;
  /** si_code. */
  code: number;
  /** si_addr for SIGSEGV/SIGBUS/SIGILL/SIGFPE raised by a fault (hex). */
  address?: string;
  /** A SIGSEGV, SIGBUS, SIGILL or SIGFPE sent by a process (kill(), tgkill(), sigqueue(): si_code <= 0), not raised by a fault: the sender's pid, 0 when not known. */
  sentBy?: number;
  /** The faulting thread's user stack, innermost first, symbolized; frames found by scanning the stack (where the walk stopped short) end in " (scanned)". */
  frames: string[];
  /** 'signal': caught at delivery; 'exit': only seen in the exit status. */
  seen: 'signal' | 'exit';
}

/** A saved window: what `rewind` reads. */
export interface Window {
  version: 1;
  pid: number;
  command?: string;
  /** Why it was written: 'crash', 'request' (SIGUSR2 or save()), 'exit'. */
  reason: 'crash' | 'request' | 'exit';
  savedAt: string;
  /** When recording started: the zero of `elapsed`. */
  started: { time: string; timestamp: string };
  windowSeconds: number;
  /** Events lost: in the kernel (ring full), evicted from the window (too old or over size), stacks not stored. */
  lost: { ring: number; evicted: number; stacks: number };
  exitCode?: number;
  crash?: Crash;
  events: TimelineEvent[];
  /** Stack id → frames (innermost first). */
  stacks: Record<string, string[]>;
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
const ALLOC_NAMES: Record<number, string> = { [AK_MALLOC]: 'malloc', [AK_CALLOC]: 'calloc', [AK_REALLOC]: 'realloc', [AK_MMAP]: 'mmap' };

/** Common arguments, decoded: fds, counts, paths, flags. */
function syscallDetails(name: string, e: Event, path?: string): string {
  const a = [e.a0, e.a1, e.a2];
  const n = (i: number): number => Number(BigInt.asIntN(64, a[i]!));
  let args: string;
  switch (name) {
    case 'read': case 'write': case 'pread64': case 'pwrite64': case 'readv': case 'writev': case 'recvfrom': case 'sendto':
      args = `fd=${n(0)} count=${n(2)}`;
      break;
    case 'close': case 'fsync': case 'fstat': case 'dup': case 'lseek':
      args = `fd=${n(0)}`;
      break;
    case 'open':
      args = `"${path}" ${openFlagNames(Number(a[1])).join('|')}`;
      break;
    case 'openat':
      args = `"${path}" ${openFlagNames(Number(a[2])).join('|')}`;
      break;
    case 'brk':
      args = `addr=${hex(a[0]!)}`;
      break;
    case 'mmap': case 'munmap': case 'mprotect':
      args = `addr=${hex(a[0]!)} len=${n(1)}`;
      break;
    case 'nanosleep': case 'clock_nanosleep': case 'exit': case 'exit_group': case 'kill': case 'tgkill':
      args = a.map((x) => String(BigInt.asIntN(64, x))).join(', ');
      break;
    default:
      args = path !== undefined ? `"${path}"` : a.map((x) => hex(x)).join(', ');
  }
  if (name === 'exit' || name === 'exit_group') return args;
  const ret = Number(e.ret);
  const r = ret < 0 && ret > -4096 ? `${ret}` : ret > 0xffff ? hex(BigInt.asUintN(64, e.ret)) : String(ret);
  return `${args} = ${r}`;
}

/** Turns one decoded record into its timeline event (undefined for CRASH: see crashOf). */
export function timelineEvent(e: Event, clock: Clock, functions: readonly string[]): TimelineEvent {
  const base = { ...clock(e.ts), pid: e.pid, tid: e.tid };
  switch (e.type) {
    case EV_SYSCALL:
    case EV_FILE: {
      const name = syscallName(e.nr);
      const path = e.type === EV_FILE ? cstr(e.tail) : undefined;
      const ev: TimelineEvent = { ...base, type: e.type === EV_FILE ? 'FILE' : 'SYSCALL', name, details: syscallDetails(name, e, path), durationUs: Number(e.dur) / 1e3 };
      if (name !== 'exit' && name !== 'exit_group') ev.ret = Number(e.ret);
      if (path !== undefined) ev.path = path;
      return ev;
    }
    case EV_ALLOC: {
      const name = ALLOC_NAMES[e.nr] ?? 'alloc';
      const details = `size=${e.a0}${e.nr === AK_REALLOC && e.a2 ? ` from ${hex(e.a2)}` : ''}${e.a1 ? '' : ' failed'}`;
      return { ...base, type: 'ALLOC', name, address: hex(e.a1), details, size: Number(e.a0), ...(e.a2 ? { from: hex(e.a2) } : {}), ...(e.stack_id ? { stack: hex(e.stack_id) } : {}) };
    }
    case EV_FREE:
      return {
        ...base, type: 'FREE', name: e.nr === AK_MUNMAP ? 'munmap' : 'free', address: hex(e.a0),
        details: e.nr === AK_MUNMAP ? `len=${e.a1}` : '', ...(e.nr === AK_MUNMAP ? { size: Number(e.a1) } : {}), ...(e.stack_id ? { stack: hex(e.stack_id) } : {}),
      };
    case EV_FUNC:
      return { ...base, type: 'FUNC_ENTRY', name: functions[e.nr] ?? `#${e.nr}`, address: hex(e.a0), details: '' };
    case EV_SIGNAL:
    case EV_CRASH: {
      const name = signalName(e.nr) ?? `signal ${e.nr}`;
      const code = Number(BigInt.asIntN(32, e.a1));
      // si_addr is the fault address for these four, 0 included (a NULL
      // dereference), when the kernel raised them; si_code <= 0: a process
      // sent one (kill(pid, SIGSEGV)), and a0 is its pid, 0 when not known
      // (ebpf/siginfo.h).
      const faultSignal = e.nr === 4 || e.nr === 7 || e.nr === 8 || e.nr === 11;
      const sent = faultSignal && code <= 0;
      const faults = faultSignal && !sent;
      const by = sent ? ` sent by ${e.a0 ? `pid ${e.a0}` : 'a process'}` : '';
      return {
        ...base, type: e.type === EV_CRASH ? 'CRASH' : 'SIGNAL', name, ...(faults ? { address: hex(e.a0) } : {}), ...(sent ? { sentBy: Number(e.a0) } : {}),
        details: `si_code=${code}${by}${e.type === EV_CRASH ? ' fatal, no handler' : ''}`,
      };
    }
    case EV_EXIT:
    default: {
      const code = e.nr;
      const sig = code & 0x7f;
      return { ...base, type: 'EXIT', name: 'exit', details: sig ? `killed by ${signalName(sig) ?? sig}${code & 0x80 ? ' (core dumped)' : ''}` : `status ${(code >> 8) & 0xff}` };
    }
  }
}

/** The crash stack's addresses from a CRASH record's tail: those walked by frame pointers, then those found by scanning the stack. */
export function crashFrames(e: Event): { walked: bigint[]; scanned: bigint[] } {
  const v = new DataView(e.tail.buffer, e.tail.byteOffset, e.tail.length);
  const read = (from: number, n: number): bigint[] => Array.from({ length: Math.max(0, Math.min(n, (e.tail.length - from) / 8)) }, (_, i) => v.getBigUint64(from + i * 8, true));
  return { walked: read(0, Number(e.dur)), scanned: read(CRASH_FRAMES * 8, Math.min(Number(e.ret), SCAN_FRAMES)) };
}

function cstr(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(b.buffer, b.byteOffset, end < 0 ? b.length : end).toString('utf8');
}

export { EV_CRASH, EV_EXIT, EV_FILE };

// ---------------------------------------------------------------------------
// Memory analysis

export interface Block {
  address: string;
  size: number;
  allocated: TimelineEvent;
  freed?: TimelineEvent;
}

export interface MemoryAnalysis {
  allocations: number;
  allocatedBytes: number;
  frees: number;
  /** Bytes of the frees whose allocation is in the window. */
  freedBytes: number;
  /** Blocks allocated in the window and not freed (leaks, or still in use). */
  outstanding: Block[];
  outstandingBytes: number;
  /** The crash's fault address falls in a block freed before it: that block, its allocation and its free. */
  useAfterFree?: Block & { faultAddress: string; offset: number };
}

/** Allocation books over a window's events (oldest first), and the use-after-free verdict for `crash`. */
export function analyzeMemory(events: readonly TimelineEvent[], crash?: Crash): MemoryAnalysis {
  const live = new Map<bigint, Block>();
  const freed: Block[] = [];
  const out: MemoryAnalysis = { allocations: 0, allocatedBytes: 0, frees: 0, freedBytes: 0, outstanding: [], outstandingBytes: 0 };
  const free = (addr: bigint, ev: TimelineEvent): void => {
    const b = live.get(addr);
    out.frees++;
    if (!b) return;
    live.delete(addr);
    out.freedBytes += b.size;
    freed.push({ ...b, freed: ev });
  };
  for (const ev of events) {
    if (crash && ev.elapsed > crash.elapsed) break;
    if (ev.type === 'ALLOC' && ev.address !== '0x0') {
      const from = (ev as { from?: string }).from;
      if (from) free(BigInt(from), ev);
      out.allocations++;
      out.allocatedBytes += ev.size ?? 0;
      live.set(BigInt(ev.address!), { address: ev.address!, size: ev.size ?? 0, allocated: ev });
    } else if (ev.type === 'FILE' && ev.name === 'execve' && ev.ret === 0) {
      live.clear(); // a new program: the old one's blocks are gone
    } else if (ev.type === 'FREE' && ev.name === 'free') {
      free(BigInt(ev.address!), ev);
    }
  }
  out.outstanding = [...live.values()];
  out.outstandingBytes = out.outstanding.reduce((s, b) => s + b.size, 0);
  if (crash?.address) {
    const fault = BigInt(crash.address);
    const inside = (b: Block): boolean => fault >= BigInt(b.address) && fault < BigInt(b.address) + BigInt(Math.max(b.size, 1));
    // Still allocated at the crash: no use-after-free. Else the last free of a block that held it.
    if (!out.outstanding.some(inside)) {
      const b = freed.filter(inside).pop();
      if (b) out.useAfterFree = { ...b, faultAddress: crash.address, offset: Number(fault - BigInt(b.address)) };
    }
  }
  return out;
}

/** The events from `from` to `to` (elapsed seconds). */
export const between = (w: Window, from: number, to: number): TimelineEvent[] => w.events.filter((e) => e.elapsed >= from && e.elapsed <= to);

/** An event's wall clock in ms since the epoch, µs precision (its `time` has ms), from the window's start. */
export const wallMs = (w: Pick<Window, 'started'>, e: Pick<When, 'timestamp'>): number =>
  Date.parse(w.started.time) + Number(BigInt(e.timestamp) - BigInt(w.started.timestamp)) / 1e6;

/** A clock from a start: (CLOCK_MONOTONIC ns, its wall ms). */
export function clockFrom(startNs: bigint, startWallMs: number): { started: Window['started']; clock: Clock } {
  const started = { time: new Date(startWallMs).toISOString(), timestamp: startNs.toString() };
  const base = Date.parse(started.time);
  return {
    started,
    clock: (ns) => ({ time: new Date(base + Number(ns - startNs) / 1e6).toISOString(), elapsed: Number(ns - startNs) / 1e9, timestamp: ns.toString() }),
  };
}
