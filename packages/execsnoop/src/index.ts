// @ebpf/execsnoop: trace new processes, as typed events.
//
//   import { execsnoop } from '@ebpf/execsnoop';
//   const trace = execsnoop({ failed: true });
//   for await (const ev of trace) console.log(ev.pid, ev.filename, ev.args);
//   trace.close();
import { existsSync } from 'node:fs';
import { ObjectSpec, Tracer, UsageError, possibleCpus, preflight } from '@ebpf/core';
import { decodeUtf8, splitCStrings } from '@ebpf/core/decode';
import { decodeEvent, type Config } from './execsnoop.gen.js';

export interface ExecsnoopOptions {
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
  /** 0, or -errno for a failed exec. */
  retval: number;
  /** The path passed to exec, as given. */
  filename: string;
  /** argv[1..]: every argument, complete (argv[0] is not repeated: `filename` stands first). */
  args: string[];
  /** Arguments were longer than the capture limit (32 KiB): `args` ends early. */
  truncated: boolean;
}

const FLAG_ARGS_TRUNCATED = 1;
const FLAG_ARGS_FAULT = 4;

/** Where the compiled BPF object lives: next to this file once built; in
 * ../dist when this module runs from source (src/index.ts under vitest). */
export const objectPath = ((): URL => {
  const built = new URL('./execsnoop.bpf.o', import.meta.url);
  const fromSource = new URL('../dist/execsnoop.bpf.o', import.meta.url);
  return existsSync(built) || !existsSync(fromSource) ? built : fromSource;
})();

/** The tracepoints execsnoop attaches to. */
export const tracepoints = [
  'syscalls:sys_enter_execve',
  'syscalls:sys_exit_execve',
  'syscalls:sys_enter_execveat',
  'syscalls:sys_exit_execveat',
];

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
  const truncated = (raw.flags & (FLAG_ARGS_TRUNCATED | FLAG_ARGS_FAULT)) !== 0 || strings.length < raw.argc;
  return {
    timestamp: raw.ts,
    pid: raw.pid,
    ppid: raw.ppid,
    uid: raw.uid,
    comm: raw.comm,
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

function checkId(what: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
    throw new UsageError(`${what} must be an integer from 0 to 4294967295, got ${v}`);
  }
}

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function execsnoop(opts: ExecsnoopOptions = {}): Tracer<ExecEvent> {
  checkId('uid', opts.uid);
  checkId('ppid', opts.ppid);
  const ring = opts.ringBytes ?? 256 * 1024;
  if (!Number.isInteger(ring) || ring < 4096 || (ring & (ring - 1)) !== 0) {
    throw new UsageError(`ringBytes must be a power of two of at least 4096, got ${ring}`);
  }
  preflight({ tracepoints });

  const spec = ObjectSpec.fromFile(objectPath, 'execsnoop');
  try {
    const config: Config = {
      filter_uid: opts.uid !== undefined,
      targ_uid: opts.uid ?? 0,
      filter_ppid: opts.ppid !== undefined,
      targ_ppid: opts.ppid ?? 0,
      include_failed: !!opts.failed,
    };
    spec.setConfig({ ...config });
    spec.setMaxEntries('scratch', possibleCpus());
    spec.setMaxEntries('events', ring);
  } catch (err) {
    spec.close();
    throw err;
  }
  const obj = spec.load();
  try {
    obj.attach();
    const { name, line } = opts;
    return new Tracer<ExecEvent>({
      object: obj,
      rings: ['events'],
      decode: (view, offset, length) => {
        const ev = decodeExec(view, offset, length);
        if (name && !name.test(ev.comm)) return undefined;
        if (line && !line.test(commandLine(ev))) return undefined;
        return ev;
      },
    });
  } catch (err) {
    obj.close();
    throw err;
  }
}

export type { Tracer } from '@ebpf/core';
