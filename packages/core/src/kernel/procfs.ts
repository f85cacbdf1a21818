// One process (or thread) as /proc describes it: /proc/PID/stat, /comm and
// /status, read the same way by every tool.
//
// /proc/PID/stat is "pid (comm) state ppid ...", where comm is the task's name
// as the process set it: up to 15 bytes that may hold spaces, parentheses and
// even newlines. Only the last ')' of the line ends it (nothing after comm can
// contain one), so the fields are counted from there, as proc(5) numbers them.
import { readFileSync, readdirSync } from 'node:fs';

/** The fields of /proc/PID/stat the tools use; `field(n)` reaches any other. */
export interface ProcStat {
  /** (1) The process id (the thread id for /proc/PID/task/TID/stat). */
  pid: number;
  /** (2) The command name, without the parentheses (bytes decoded as UTF-8). */
  comm: string;
  /** (3) R running, S sleeping, D disk sleep, T stopped, t tracing stop, Z zombie, X dead, I idle... */
  state: string;
  /** (4) The parent's PID. */
  ppid: number;
  /** (5) The process group id. */
  pgrp: number;
  /** (6) The session id. */
  session: number;
  /** (14) User-mode CPU time, in clock ticks. */
  utime: number;
  /** (15) Kernel-mode CPU time, in clock ticks. */
  stime: number;
  /** (20) Threads in the process. */
  numThreads: number;
  /**
   * (22) When the process started, in clock ticks after boot. With the PID it
   * names a process across PID reuse: a new process under the same PID has a
   * later start time.
   */
  starttime: number;
  /** Field `n` as proc(5) numbers them (1: pid, 2: comm, 3: state, ...), as text; undefined past the end. */
  field(n: number): string | undefined;
}

/**
 * Parses the text of a /proc/PID/stat (or /proc/PID/task/TID/stat) file.
 * Throws an Error when it does not have the shape the kernel gives it.
 */
export function parseProcStat(text: string | Buffer): ProcStat {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const open = buf.indexOf(0x28); // '('
  const close = buf.lastIndexOf(0x29); // ')'
  if (open < 1 || close < open) throw new Error('not a /proc/PID/stat line: no (comm)');
  const rest = buf.toString('latin1', close + 1).trim().split(' ');
  // fields[n] is proc(5)'s field n.
  const fields = ['', buf.toString('latin1', 0, open).trim(), buf.toString('utf8', open + 1, close), ...rest];
  const num = (n: number): number => {
    const s = fields[n];
    if (s === undefined || !/^-?\d+$/.test(s)) throw new Error(`not a /proc/PID/stat line: field ${n} is ${JSON.stringify(s)}`);
    return Number(s);
  };
  const state = fields[3] ?? '';
  if (!/^[A-Za-z]$/.test(state)) throw new Error(`not a /proc/PID/stat line: state ${JSON.stringify(state)}`);
  return {
    pid: num(1),
    comm: fields[2]!,
    state,
    ppid: num(4),
    pgrp: num(5),
    session: num(6),
    utime: num(14),
    stime: num(15),
    numThreads: num(20),
    starttime: num(22),
    field: (n) => (Number.isInteger(n) && n >= 1 ? fields[n] : undefined),
  };
}

function taskDir(pid: number, tid?: number): string {
  return tid === undefined ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`;
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** /proc/PID/stat (or that of thread `tid`), parsed; undefined when there is no such process. */
export function readProcStat(pid: number, tid?: number): ProcStat | undefined {
  const buf = readOrUndefined(`${taskDir(pid, tid)}/stat`);
  return buf === undefined ? undefined : parseProcStat(buf);
}

/** The scheduler state letter of a process or thread (R, S, D, T, t, Z, X...); undefined when it is gone. */
export function processState(pid: number, tid?: number): string | undefined {
  return readProcStat(pid, tid)?.state;
}

/**
 * True while any thread of the process has not finished exiting (is neither
 * zombie nor dead). The thread-group leader can be a zombie while other
 * threads still run, so every thread is looked at.
 */
export function processAlive(pid: number): boolean {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  return tids.some((tid) => {
    const state = processState(pid, Number(tid));
    return state !== undefined && state !== 'Z' && state !== 'X';
  });
}

/** The command name from /proc/PID/comm (without its newline); undefined when the process is gone. */
export function readComm(pid: number, tid?: number): string | undefined {
  const buf = readOrUndefined(`${taskDir(pid, tid)}/comm`);
  if (buf === undefined) return undefined;
  const end = buf.length > 0 && buf[buf.length - 1] === 0x0a ? buf.length - 1 : buf.length;
  return buf.toString('utf8', 0, end);
}

/**
 * The "Name:\tvalue" lines of /proc/PID/status (Tgid, PPid, NSpid, Uid,
 * CapEff...), values trimmed; undefined when the process is gone.
 */
export function readProcStatus(pid: number, tid?: number): Record<string, string> | undefined {
  const buf = readOrUndefined(`${taskDir(pid, tid)}/status`);
  if (buf === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const line of buf.toString('utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

/** The largest PID any kernel hands out (PID_MAX_LIMIT on 64-bit: 4M). */
export const PID_LIMIT = 4194304;

/** The kernel's pid_max (/proc/sys/kernel/pid_max): every PID is below it; undefined when unreadable. */
export function pidMax(): number | undefined {
  const n = Number(readOrUndefined('/proc/sys/kernel/pid_max')?.toString('latin1').trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
