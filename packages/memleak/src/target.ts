// The process memleak traces: an existing one (-p), or a command it starts
// (-c) held stopped until the probes are in place; and the allocator library
// that process really maps.
import type { StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { findMappedFile, type MappedFile } from '@ebpf/core';
import { openElfCached } from '@ebpf/core/symbolize';

// which, until, entryPoint and startStopped live in @ebpf/core (shared with timemachine).
import { startStopped as startStoppedAs, type StartedCommand } from '@ebpf/core';
export { sleep, until, which, entryPoint, type StartedCommand } from '@ebpf/core';

/** BCC splits -c COMMAND on whitespace (Python's str.split()), without a shell. */
export function splitCommand(command: string): string[] {
  return command.split(/\s+/).filter((s) => s !== '');
}

/**
 * Starts `argv` stopped before it runs anything: a shell that stops itself
 * (SIGSTOP) and, once continued, execs the command in place, keeping its
 * PID. Resolves once it is stopped.
 */
export function startStopped(argv: string[], stdio: StdioOptions): Promise<StartedCommand> {
  return startStoppedAs(argv, stdio, 'memleak');
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
