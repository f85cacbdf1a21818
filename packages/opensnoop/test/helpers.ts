// Shared by the opensnoop tests: a tracer that collects events, the
// `opener` workload (test/c/opener.c), which makes the exact open-family
// system calls a test asks for and prints what each returned, and BCC's row.
// Temp dirs, the CLI as a child process and BPF fd counts come from
// test/support.
import type { SpawnOptions } from 'node:child_process';
import { opensnoop, type OpenEvent, type OpensnoopOptions, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';
import { compileC, run } from '../../../test/support/workload.js';

/** A running tracer and every event it has delivered so far. */
export type Capture = EventCapture<OpenEvent, Tracer<OpenEvent>>;

export function capture(opts: OpensnoopOptions = {}): Capture {
  return collect<OpenEvent, Tracer<OpenEvent>>(opensnoop(opts));
}

/** Compiles test/c/opener.c (once per test process). */
export function buildOpener(): string {
  return compileC(new URL('./c/opener.c', import.meta.url), { flags: ['-pthread'] });
}

/** One line of opener's report. */
export interface Call {
  name: string;
  ret: number;
  errno: number;
  tid: number;
}

export interface Run {
  pid: number;
  calls: Call[];
}

/** Runs opener with `args` (no shell) and returns its PID and what each call returned. */
export async function runOpener(bin: string, args: string[], opts: SpawnOptions = {}): Promise<Run> {
  const r = await run(bin, args, opts);
  if (r.code !== 0) throw new Error(`opener exited ${r.code}`);
  const calls = r.stdout.split('\n').filter(Boolean).map((l) => {
    const [name, ret, errno, tid] = l.split(' ');
    return { name: name!, ret: Number(ret), errno: Number(errno), tid: Number(tid) };
  });
  return { pid: r.pid, calls };
}

/** A path as opener's hex: argument (any bytes). */
export const hexPath = (b: Buffer): string => `hex:${b.toString('hex')}`;

export const HEADER = 'PID    COMM               FD ERR PATH';

/** BCC's row: "%-6d %-16s %4d %3d " then the path; widths in bytes. */
export function bccRow(id: number, comm: string, fd: number, err: number, path: string, pre = '', flags?: number): string {
  const padBytes = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - Buffer.byteLength(s)));
  const fl = flags === undefined ? '' : `${flags.toString(8).padStart(8, '0')} `;
  return `${pre}${padBytes(String(id), 6)} ${padBytes(comm, 16)} ${String(fd).padStart(4)} ${String(err).padStart(3)} ${fl}${path}`;
}
