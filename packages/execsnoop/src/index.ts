// @ebpf/execsnoop: trace new processes, as typed events.
//
//   import { execsnoop } from '@ebpf/execsnoop';
//   const trace = execsnoop({ failed: true });
//   for await (const ev of trace) console.log(ev.pid, ev.filename, ev.args);
//   trace.close();
import { PID_LIMIT, possibleCpus, type Tracer } from '@ebpf/core';
import { containerOptions, type ContainerOptions, defineEventTool, int, option, regex, user } from '@ebpf/core/kit';
import { decodeUtf8, splitCStrings } from '@ebpf/core/decode';
import { EVENT_SIZE, decodeEvent, EV_ARGS_FAULT, EV_ARGS_TRUNCATED, type Config } from './execsnoop.gen.js';

export interface ExecsnoopOptions extends ContainerOptions {
  /** Only execs by this user id (in-kernel; 0 works). */
  uid?: number;
  /** Only processes whose parent has this PID (in-kernel). */
  ppid?: number;
  /** Also report failed execs (retval < 0). Default: successful only. */
  failed?: boolean;
  /** Only events whose command name (comm) matches. */
  name?: RegExp;
  /** Only events whose command line (file name and arguments, space-joined) matches. */
  line?: RegExp;
  /** Ring buffer size in bytes, a power of two (default 256 KiB: an exec storm fills ~40 KiB per 20 ms drain). */
  ringBytes?: number;
}

export interface ExecEvent {
  /** CLOCK_MONOTONIC nanoseconds at exec return (same clock as process.hrtime.bigint()). */
  timestamp: bigint;
  pid: number;
  ppid: number;
  uid: number;
  /** Name of the new program; of the caller for a failed exec. */
  comm: string;
  /** The cgroup v2 id of the task (its directory's inode number under the cgroup2 mount; 1: the root). Its path: CgroupPaths from @ebpf/core/kit. */
  cgroupId: bigint;
  /** 0, or -errno for a failed exec. */
  retval: number;
  /** The path passed to exec, as given. */
  filename: string;
  /** argv[1..]: every argument, complete (argv[0] is not repeated: `filename` stands first). */
  args: string[];
  /** Arguments were longer than the capture limit (32 KiB): `args` ends early. */
  truncated: boolean;
}

/** Turns one ring record into an ExecEvent. */
export function decodeExec(view: DataView, offset: number, length: number): ExecEvent {
  const raw = decodeEvent(view, offset, length);
  const data = raw.data;
  const fnLen = Math.min(raw.filename_len, data.length);
  const filename = decodeUtf8(data.subarray(0, Math.max(0, fnLen - 1)));
  const block = data.subarray(fnLen, Math.min(data.length, fnLen + raw.args_len));
  const strings = splitCStrings(block);
  // The block starts with argv[0] (and, for #! scripts, the interpreter's
  // arguments, which the kernel inserts): drop those, keep argv[1..].
  const drop = 1 + raw.skip;
  const args = strings.length > drop ? strings.slice(drop) : [];
  const truncated = (raw.flags & (EV_ARGS_TRUNCATED | EV_ARGS_FAULT)) !== 0 || strings.length < raw.argc;
  return {
    timestamp: raw.ts,
    pid: raw.pid,
    ppid: raw.ppid,
    uid: raw.uid,
    comm: raw.comm,
    cgroupId: raw.cgroup_id,
    retval: raw.retval,
    filename,
    args,
    truncated,
  };
}

/** The command line as BCC prints it: file name and arguments, space-joined. */
export function commandLine(ev: ExecEvent): string {
  return ev.args.length ? `${ev.filename} ${ev.args.join(' ')}` : ev.filename;
}

/** execsnoop's options: the API's keys, with their CLI flags. */
export const options = {
  uid: option('-u, --uid <USER>', 'trace this UID only', user),
  ppid: option('-P, --ppid <PPID>', 'trace this parent PID only', int(1, PID_LIMIT)),
  failed: option('-x, --fails', 'include failed exec()s'),
  name: option('-n, --name <NAME>', 'only print commands matching this name (regex), any arg', regex),
  line: option('-l, --line <LINE>', 'only print commands where arg contains this line (regex)', regex),
  ...containerOptions,
};

export const tool = defineEventTool({
  name: 'execsnoop',
  object: new URL('./execsnoop.bpf.o', import.meta.url),
  options,
  knobs: (o) => ({
    filter_uid: o.uid !== undefined,
    targ_uid: o.uid ?? 0,
    filter_ppid: o.ppid !== undefined,
    targ_ppid: o.ppid ?? 0,
    include_failed: !!o.failed,
  } satisfies Config),
  maps: () => ({ scratch: possibleCpus() }),
  // An exec storm fills ~40 KiB per 20 ms drain.
  // The default ring holds a storm's worth of records on every CPU (kit: defaultRingBytes); argv follows the struct; an exec takes ~0.2 ms of CPU.
  ring: { defaultBytes: 256 * 1024, recordBytes: EVENT_SIZE + 256, ratePerCpu: 5_000 },
  decode: decodeExec,
  filter: ({ name, line }) => (name || line ? (ev) => (!name || name.test(ev.comm)) && (!line || line.test(commandLine(ev))) : undefined),
});

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function execsnoop(opts: ExecsnoopOptions = {}): Tracer<ExecEvent> {
  return tool.start(opts);
}

export type { Tracer } from '@ebpf/core';
