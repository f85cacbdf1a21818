// The process memleak traces: an existing one (-p), or a command it starts
// (-c) held stopped until the probes are in place; and the allocator library
// that process really maps.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants, existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, resolve } from 'node:path';
import { UsageError, findMappedFile, processState, type MappedFile } from '@ebpf/core';
import { signalNumber } from '@ebpf/core/signals';
import { ElfFile, openElfCached } from '@ebpf/core/symbolize';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond()` holds; false when `give up` says so or `ms` pass. */
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

/** BCC splits -c COMMAND on whitespace (Python's str.split()), without a shell. */
export function splitCommand(command: string): string[] {
  return command.split(/\s+/).filter((s) => s !== '');
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
 * PID. Resolves once it is stopped.
 */
export async function startStopped(argv: string[], stdio: StdioOptions): Promise<StartedCommand> {
  const child = spawn('/bin/sh', ['-c', 'kill -STOP $$ && exec "$@"', 'memleak', ...argv], { stdio });
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


/** The library memleak probes. */
export interface AllocatorLibrary extends MappedFile {
  /** How it was found: "maps" (mapped by the process), "path" (given, not mapped yet), "exe" (a static program). */
  how: 'maps' | 'path' | 'exe';
}

/**
 * Whether `path` is the file -O OBJ names: an absolute path; a basename
 * ("libc.so.6"); or a library name as the linker's -l takes it ("c" is
 * libc.so.6 or libc-2.31.so, never libcrypto.so).
 */
export function objMatcher(obj: string): (path: string) => boolean {
  if (obj.startsWith('/')) return (p) => p === obj;
  const lib = `lib${obj}`;
  return (p) => {
    const base = basename(p);
    return base === obj || base.startsWith(`${lib}.so`) || (base.startsWith(`${lib}-`) && base.includes('.so'));
  };
}

/**
 * The library whose allocator functions to probe in process `pid`: -O OBJ
 * (default "c", the C library) as the process maps it. A path that is not
 * mapped (yet) is used as given; a program with no C library mapped (static)
 * is used itself if it defines malloc.
 */
export function findAllocator(pid: number, obj: string): AllocatorLibrary | undefined {
  const mapped = findMappedFile(pid, objMatcher(obj));
  if (mapped) return { ...mapped, how: 'maps' };
  const bare = { pid, deleted: false, dev: '', inode: 0, mappings: [] };
  if (obj.startsWith('/') && existsSync(obj)) return { ...bare, path: obj, hostPath: obj, how: 'path' };
  if (obj === 'c') {
    const exe = `/proc/${pid}/exe`;
    if (openElfCached(exe)?.findSymbol('malloc')) return { ...bare, path: exe, hostPath: exe, how: 'exe' };
  }
  return undefined;
}
