// @ebpf/opensnoop: trace open(), openat() and openat2(), as typed events.
//
//   import { opensnoop } from '@ebpf/opensnoop';
//   const trace = opensnoop({ failed: true });
//   for await (const ev of trace) console.log(ev.pid, ev.comm, ev.path, ev.errno);
//   trace.close();
import { existsSync } from 'node:fs';
import {
  OPEN_ACCESS_MODES,
  ObjectSpec,
  type BpfObject,
  Tracer,
  UsageError,
  hasTracepoint,
  openFlagValue,
  preflight,
} from '@ebpf/core';
import { decodeUtf8 } from '@ebpf/core/decode';
import {
  decodeEvent,
  EV_DIR,
  EV_DIR_TRUNCATED,
  EV_FULL_PATH,
  EV_PATH_TRUNCATED,
  SYS_OPEN,
  SYS_OPENAT,
  SYS_OPENAT2,
  type Config,
} from './opensnoop.gen.js';

export interface OpensnoopOptions {
  /** Only this process (thread-group id), in-kernel. Ignored when `tid` is given (as BCC). */
  pid?: number;
  /** Only this thread, in-kernel. */
  tid?: number;
  /** Only this user id, in-kernel (0 works). */
  uid?: number;
  /** Only failed opens (fd -1), in-kernel. */
  failed?: boolean;
  /** Only processes whose command name (comm) contains this text (bytes, as BCC's -n), in-kernel. */
  name?: string;
  /**
   * Only opens with any of these flags (BCC's -f, repeatable), in-kernel.
   * Names as in open(2): 'O_WRONLY', 'O_CREAT'... The access modes O_RDONLY,
   * O_WRONLY and O_RDWR match by value (O_RDONLY is 0: "opened read-only");
   * a flag of several bits (O_SYNC, O_TMPFILE) matches when all are set.
   */
  flags?: string[];
  /** Resolve relative paths: also report `fullPath` (from the cwd, or openat's directory fd). */
  fullPath?: boolean;
  /** Ring buffer size in bytes, a power of two (default 512 KiB). */
  ringBytes?: number;
}

export type OpenSyscall = 'open' | 'openat' | 'openat2';

export interface OpenEvent {
  /** CLOCK_MONOTONIC nanoseconds at syscall return (same clock as process.hrtime.bigint()). */
  timestamp: bigint;
  /** Thread-group id: what ps calls the PID. */
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  syscall: OpenSyscall;
  /** The file descriptor, or -1 when the open failed. */
  fd: number;
  /** 0, or the error number (positive: 2 for ENOENT). */
  errno: number;
  /** Open flags (openat2: open_how.flags). Names: openFlagNames() from @ebpf/core. */
  flags: number;
  /** Permission bits passed for O_CREAT / O_TMPFILE (else whatever the caller passed). */
  mode: number;
  /** openat/openat2's directory fd: -100 (AT_FDCWD) for the cwd; always -100 for open(). */
  dirfd: number;
  /** The path exactly as the process passed it ('' when it could not be read: errno EFAULT). */
  path: string;
  /** The path was longer than PATH_MAX (4096 bytes): `path` holds its first 4096 bytes (errno ENAMETOOLONG). */
  truncated: boolean;
  /**
   * With `fullPath`: the path made absolute, from the directory it was
   * relative to at the time of the call (the cwd, or openat's dirfd), as the
   * process sees it (up to its root). Starts with ".../" when that directory
   * was too deep to walk (over 128 levels or 4 KiB of names); equals `path`
   * when the path is absolute or the directory could not be found.
   */
  fullPath?: string;
}

const SYSCALLS: Record<number, OpenSyscall> = { [SYS_OPEN]: 'open', [SYS_OPENAT]: 'openat', [SYS_OPENAT2]: 'openat2' };

/** Where the compiled BPF object lives: next to this file once built; in
 * ../dist when this module runs from source (src/index.ts under vitest). */
export const objectPath = ((): URL => {
  const built = new URL('./opensnoop.bpf.o', import.meta.url);
  const fromSource = new URL('../dist/opensnoop.bpf.o', import.meta.url);
  return existsSync(built) || !existsSync(fromSource) ? built : fromSource;
})();

/** The tracepoints opensnoop needs; open and openat2 are used where the kernel has them. */
export const tracepoints = ['syscalls:sys_enter_openat', 'syscalls:sys_exit_openat'];
const optional: Array<[OpenSyscall, string[]]> = [
  ['open', ['sys_enter_open', 'sys_exit_open']],
  ['openat2', ['sys_enter_openat2', 'sys_exit_openat2']],
];

/** Joins the -F directory names (innermost first, each NUL-terminated) and the relative path. */
function joinFull(path: string, dirs: Uint8Array, dirTruncated: boolean): string {
  const names: string[] = [];
  let start = 0;
  while (start < dirs.length) {
    let end = dirs.indexOf(0, start);
    if (end < 0) end = dirs.length;
    names.push(decodeUtf8(dirs.subarray(start, end)));
    start = end + 1;
  }
  let dir = dirTruncated ? '...' : '';
  for (let i = names.length - 1; i >= 0; i--) dir += '/' + names[i];
  return `${dir}/${path}`;
}

/** Turns one ring record into an OpenEvent. */
export function decodeOpen(view: DataView, offset: number, length: number): OpenEvent {
  const raw = decodeEvent(view, offset, length);
  const data = raw.data;
  const pathLen = Math.min(raw.path_len, data.length);
  const path = pathLen === 0 ? '' : decodeUtf8(data.subarray(0, pathLen));
  const ret = raw.ret;
  const ev: OpenEvent = {
    timestamp: raw.ts,
    pid: raw.pid,
    tid: raw.tid,
    uid: raw.uid,
    comm: raw.comm,
    syscall: SYSCALLS[raw.syscall] ?? 'openat',
    fd: ret >= 0 ? ret : -1,
    errno: ret >= 0 ? 0 : -ret,
    flags: Number(raw.flags),
    mode: raw.mode,
    dirfd: raw.dfd,
    path,
    truncated: (raw.status & EV_PATH_TRUNCATED) !== 0,
  };
  if (raw.status & EV_DIR) {
    const dirs = data.subarray(pathLen, Math.min(data.length, pathLen + raw.dir_len));
    ev.fullPath = joinFull(path, dirs, (raw.status & EV_DIR_TRUNCATED) !== 0);
  } else if (raw.status & EV_FULL_PATH) {
    ev.fullPath = path; // absolute already, or its directory could not be found
  }
  return ev;
}

function checkId(what: string, v: number | undefined, min = 0): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > 0xffffffff)) {
    throw new UsageError(`${what} must be an integer from ${min} to 4294967295, got ${v}`);
  }
}

/** The in-kernel form of the -f list: access modes by value, single bits, multi-bit flags. */
export function flagFilter(names: string[]): { accmodes: number; any: bigint; all: bigint[] } {
  let accmodes = 0;
  let any = 0n;
  const all: bigint[] = [];
  for (const name of names) {
    const value = openFlagValue(name);
    if (value === undefined) throw new UsageError(`Bad flag: ${name}`);
    if (Object.prototype.hasOwnProperty.call(OPEN_ACCESS_MODES, name) || name === 'O_ACCMODE') {
      accmodes |= 1 << value; // O_ACCMODE (3): the invalid access mode 3
    } else if ((value & (value - 1)) === 0) {
      any |= BigInt(value);
    } else if (!all.includes(BigInt(value))) {
      all.push(BigInt(value));
    }
  }
  return { accmodes, any, all };
}

function u64Array(values: bigint[], n: number): Uint8Array {
  const out = new Uint8Array(8 * n);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setBigUint64(8 * i, v, true));
  return out;
}

/**
 * Validates the options, loads the BPF object and attaches it: the probes
 * run and records flow into the ring buffer map `events`. For readers that
 * format records themselves (the CLI does, for speed); decode them with
 * decodeOpen(). Most callers want opensnoop().
 */
export function opensnoopObject(opts: OpensnoopOptions = {}): BpfObject {
  checkId('pid', opts.pid, 1);
  checkId('tid', opts.tid, 1);
  checkId('uid', opts.uid);
  const name = opts.name ?? '';
  if (typeof name !== 'string') throw new UsageError('name must be a string');
  const nameBytes = Buffer.byteLength(name);
  if (nameBytes > 15) {
    throw new UsageError(`name '${name}' is ${nameBytes} bytes; a command name (comm) holds at most 15, so it could never match`);
  }
  if (opts.flags !== undefined && !Array.isArray(opts.flags)) throw new UsageError('flags must be an array of flag names');
  const flags = opts.flags?.length ? flagFilter(opts.flags) : undefined;
  if (flags && flags.all.length > 4) throw new UsageError('at most 4 different multi-bit flags');
  const ring = opts.ringBytes ?? 512 * 1024;
  if (!Number.isInteger(ring) || ring < 4096 || ring > 2 ** 30 || (ring & (ring - 1)) !== 0) {
    throw new UsageError(`ringBytes must be a power of two from 4096 to 1 GiB, got ${ring}`);
  }
  preflight({ tracepoints });

  const spec = ObjectSpec.fromFile(objectPath, 'opensnoop');
  try {
    const config: Omit<Config, 'filter_all'> = { // filter_all (an array) is set below, as bytes
      targ_tid: opts.tid ?? 0,
      targ_tgid: opts.tid === undefined ? (opts.pid ?? 0) : 0, // -t wins over -p, as BCC
      filter_uid: opts.uid !== undefined,
      targ_uid: opts.uid ?? 0,
      failed_only: !!opts.failed,
      filter_comm: nameBytes > 0,
      targ_comm: name,
      targ_comm_len: nameBytes,
      filter_flags: flags !== undefined,
      filter_accmodes: flags?.accmodes ?? 0,
      filter_any: flags?.any ?? 0n,
      full_path: !!opts.fullPath,
    };
    spec.setConfig({ ...config });
    if (flags) spec.setGlobal('filter_all', u64Array(flags.all, 4));
    spec.setMaxEntries('events', ring);
    // open() does not exist on every architecture (arm64), openat2() before 5.6.
    for (const [, [enter, exit]] of optional) {
      if (!hasTracepoint(`syscalls:${enter}`) || !hasTracepoint(`syscalls:${exit}`)) {
        spec.setAutoload(enter!, false);
        spec.setAutoload(exit!, false);
      }
    }
  } catch (err) {
    spec.close();
    throw err;
  }
  const obj = spec.load();
  try {
    obj.attach();
  } catch (err) {
    obj.close();
    throw err;
  }
  return obj;
}

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function opensnoop(opts: OpensnoopOptions = {}): Tracer<OpenEvent> {
  const obj = opensnoopObject(opts);
  try {
    return new Tracer<OpenEvent>({ object: obj, rings: ['events'], decode: decodeOpen });
  } catch (err) {
    obj.close();
    throw err;
  }
}

export { openFlagNames, OPEN_FLAGS } from '@ebpf/core';
export type { Tracer, BpfObject } from '@ebpf/core';
