// @ebpf/opensnoop: trace open(), openat() and openat2(), as typed events.
//
//   import { opensnoop } from '@ebpf/opensnoop';
//   const trace = opensnoop({ failed: true });
//   for await (const ev of trace) console.log(ev.pid, ev.comm, ev.path, ev.errno);
//   trace.close();
import { OPEN_ACCESS_MODES, UsageError, openFlagValue, type Tracer } from '@ebpf/core';
import { containerOptions, custom, defineEventTool, type ContainerOptions, option, pid, text, user } from '@ebpf/core/kit';
import { decodeUtf8, splitCStrings } from '@ebpf/core/decode';
import { EVENT_SIZE, EV_DIR, EV_DIR_TRUNCATED, EV_FULL_PATH, EV_PATH_TRUNCATED, SYS_OPEN, SYS_OPENAT, SYS_OPENAT2 } from './opensnoop.gen.js';
import { decodeEvent, type Config } from './opensnoop.gen.js';

export interface OpensnoopOptions extends ContainerOptions {
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
  /** The cgroup v2 id of the caller (its directory's inode number under the cgroup2 mount; 1: the root). Its path: CgroupPaths from @ebpf/core/kit. */
  cgroupId: bigint;
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

/** Turns one ring record into an OpenEvent. */
export function decodeOpen(view: DataView, offset: number, length: number): OpenEvent {
  const raw = decodeEvent(view, offset, length);
  const data = raw.data;
  const pathLen = Math.min(raw.path_len, data.length);
  const path = decodeUtf8(data.subarray(0, pathLen));
  const ret = raw.ret;
  const ev: OpenEvent = {
    timestamp: raw.ts,
    pid: raw.pid,
    tid: raw.tid,
    uid: raw.uid,
    comm: raw.comm,
    cgroupId: raw.cgroup_id,
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
    // the directory names follow the path, innermost first, each NUL-terminated
    const names = splitCStrings(data.subarray(pathLen, Math.min(data.length, pathLen + raw.dir_len)));
    ev.fullPath = `${raw.status & EV_DIR_TRUNCATED ? '...' : ''}${names.reverse().map((n) => `/${n}`).join('')}/${path}`;
  } else if (raw.status & EV_FULL_PATH) {
    ev.fullPath = path; // absolute already, or its directory could not be found
  }
  return ev;
}

/** The in-kernel form of the -f list: access modes by value, single bits, multi-bit flags (all bits set). */
function flagFilter(names: string[]): { accmodes: number; any: bigint; all: bigint[] } {
  let accmodes = 0;
  let any = 0n;
  const all = new Set<bigint>();
  for (const name of names) {
    const value = openFlagValue(name)!;
    if (Object.hasOwn(OPEN_ACCESS_MODES, name) || name === 'O_ACCMODE') accmodes |= 1 << value; // O_ACCMODE: the invalid mode 3
    else if ((value & (value - 1)) === 0) any |= BigInt(value);
    else all.add(BigInt(value));
  }
  return { accmodes, any, all: [...all] };
}

/** A name of open(2)'s flags, for this architecture. */
function flagName(name: string): string {
  if (openFlagValue(name) === undefined) throw new UsageError(`Bad flag: ${name}`);
  return name;
}
const openFlag = custom(flagName, (v) => flagName(String(v)));

/** opensnoop's options: the API's keys, with their CLI flags. */
export const options = {
  failed: option('-x, --failed', 'only show failed opens'),
  pid: option('-p, --pid <PID>', 'trace this PID only', pid),
  tid: option('-t, --tid <TID>', 'trace this TID only', pid),
  uid: option('-u, --uid <UID>', 'trace this UID only', user),
  name: option('-n, --name <NAME>', 'only print process names containing this name', text(15, 'command names (comm)')),
  flags: option('-f, --flag_filter <FLAG>', 'filter on flags argument (e.g., O_WRONLY); repeatable', openFlag, { repeatable: true }),
  fullPath: option('-F, --full-path', 'show full path for an open file with relative path'),
  ...containerOptions,
};

export const tool = defineEventTool({
  name: 'opensnoop',
  object: new URL('./opensnoop.bpf.o', import.meta.url),
  options,
  knobs: (o) => {
    const f = flagFilter(o.flags ?? []);
    return {
      targ_tid: o.tid ?? 0,
      targ_tgid: o.tid === undefined ? (o.pid ?? 0) : 0, // -t wins over -p, as BCC
      filter_uid: o.uid !== undefined,
      targ_uid: o.uid ?? 0,
      failed_only: !!o.failed,
      filter_comm: !!o.name,
      targ_comm: o.name ?? '',
      targ_comm_len: Buffer.byteLength(o.name ?? ''),
      filter_flags: !!o.flags?.length,
      filter_accmodes: f.accmodes,
      filter_any: f.any,
      filter_all: new Uint8Array(BigUint64Array.from(f.all).buffer), // __u64[4], host byte order
      full_path: !!o.fullPath,
    } satisfies Omit<Config, 'filter_all'> & { filter_all: Uint8Array };
  },
  // The default ring holds a storm's worth of records on every CPU (kit: defaultRingBytes); a path of ~64 bytes follows the struct.
  ring: { defaultBytes: 512 * 1024, recordBytes: EVENT_SIZE + 64 },
  // open() does not exist on every architecture (arm64), openat2() before 5.6.
  optional: ['sys_enter_open', 'sys_exit_open', 'sys_enter_openat2', 'sys_exit_openat2'],
  decode: decodeOpen,
});

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function opensnoop(opts: OpensnoopOptions = {}): Tracer<OpenEvent> {
  return tool.start(opts);
}

export { openFlagNames } from '@ebpf/core';
export type { Tracer } from '@ebpf/core';
