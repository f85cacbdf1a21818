// A command that tools start themselves (memleak -c, timemachine record --):
// found as execvp() would, started stopped before it runs anything, and the
// first instruction it runs once its libraries are mapped.
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { childProcess } from './child-process.js';
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { processState } from './procfs.js';
import { signalNumber } from './signals.js';
import { ElfFile } from '../symbolize/elf.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond()` holds; false when `giveUp` says so or `ms` pass. */
export async function until(cond: () => boolean, ms: number, giveUp: () => boolean = () => false): Promise<boolean> {
  const end = Date.now() + ms;
  let step = 1;
  for (;;) {
    if (cond()) return true;
    if (giveUp() || Date.now() > end) return false;
    await sleep(step);
    step = Math.min(step * 2, 20);
  }
}

/** What runToGate() needs of a loaded object: the gate's counter (ebpf/entry_gate.h). */
interface GateCounter {
  readGlobalInt(name: string): bigint;
}

/**
 * Lets a stopped process run until the entry gate (ebpf/entry_gate.h) stops
 * it again: `attach` attaches the object's `gate` program at the entry
 * point; the process is continued, and this waits until gate_hits has moved
 * and the process is stopped, then detaches the gate. False when `gone()`
 * says the process ended first (or after 10 s).
 */
export async function runToGate(obj: GateCounter, pid: number, attach: () => { detach(): void }, gone: () => boolean): Promise<boolean> {
  const before = obj.readGlobalInt('gate_hits');
  const gate = attach();
  try {
    process.kill(pid, 'SIGCONT');
    return await until(() => obj.readGlobalInt('gate_hits') > before && processState(pid) === 'T', 10_000, gone);
  } finally {
    gate.detach();
  }
}

/** Where execvp() would find `name`: a path as given, else the first executable in $PATH. */
export function which(name: string, path = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'): string | undefined {
  const isExec = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return isExec(name) ? resolve(name) : undefined;
  for (const dir of path.split(delimiter)) {
    const p = join(dir || '.', name);
    if (isExec(p)) return isAbsolute(p) ? p : resolve(p);
  }
  return undefined;
}

/**
 * The file and offset of the first instruction the program at `path` runs
 * once every library is mapped: its ELF entry point, or for a `#!` script
 * its interpreter's. Undefined when that cannot be worked out.
 */
export function entryPoint(path: string, depth = 0): { file: string; offset: number } | undefined {
  let head: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      head = Buffer.alloc(256);
      head = head.subarray(0, readSync(fd, head, 0, 256, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  if (head[0] === 0x23 && head[1] === 0x21 && depth === 0) {
    const line = head.toString('latin1', 2).split('\n')[0]!.trim();
    const interp = line.split(/\s+/)[0];
    return interp ? entryPoint(interp, 1) : undefined;
  }
  try {
    const elf = ElfFile.open(path);
    const offset = elf.vaddrToFileOffset(elf.entry);
    return offset === undefined ? undefined : { file: path, offset };
  } catch {
    return undefined;
  }
}

export interface StartedCommand {
  child: ChildProcess;
  pid: number;
  argv: string[];
  /** Resolves with the exit code (or 128 + signal) when the command ends. */
  exited: Promise<number>;
}

/**
 * Starts `argv` stopped before it runs anything: a shell that stops itself
 * (SIGSTOP) and, once continued, execs the command in place, keeping its
 * PID. Resolves once it is stopped. `tool` names the shell ($0).
 */
export async function startStopped(argv: string[], stdio: StdioOptions, tool = 'ebpf'): Promise<StartedCommand> {
  const child = childProcess().spawn('/bin/sh', ['-c', 'kill -STOP $$ && exec "$@"', tool, ...argv], { stdio });
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((r) => child.once('error', r));
    throw new UsageError(`cannot run '${argv.join(' ')}': ${err.message}`);
  }
  const exited = new Promise<number>((r) => child.once('exit', (code, signal) => r(code ?? 128 + (signal ? (signalNumber(signal) ?? 0) : 0))));
  let gone = false;
  void exited.then(() => (gone = true));
  if (!(await until(() => processState(pid) === 'T', 10_000, () => gone))) {
    child.kill('SIGKILL');
    throw new UsageError(`cannot run '${argv.join(' ')}': the launcher did not start`);
  }
  return { child, pid, argv, exited };
}
