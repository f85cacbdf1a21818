// The process timemachine records when it starts one: held stopped until
// the probes are in place, then let go (memleak's -c does the same).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, resolve } from 'node:path';
import { UsageError, findMappedFile, processState, type MappedFile } from '@ebpf/core';
import { signalNumber } from '@ebpf/core/signals';
import { ElfFile } from '@ebpf/core/symbolize';

/** Where execvp() would find `name`. */
export function which(name: string, path = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'): string | undefined {
  const ok = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return ok(name) ? resolve(name) : undefined;
  for (const dir of path.split(delimiter)) {
    const p = join(dir || '.', name);
    if (ok(p)) return isAbsolute(p) ? p : resolve(p);
  }
  return undefined;
}

export interface StartedCommand {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or 128 + signal). */
  exited: Promise<number>;
}

/** Starts `argv` stopped before it runs anything: a shell that stops itself, then execs the command in place (same PID). */
export async function startStopped(argv: string[], stdio: StdioOptions, name: string): Promise<StartedCommand> {
  const child = spawn('/bin/sh', ['-c', 'kill -STOP $$ && exec "$@"', name, ...argv], { stdio });
  const pid = child.pid;
  if (pid === undefined) throw new UsageError(`cannot run '${argv.join(' ')}'`);
  const exited = new Promise<number>((r) => child.once('exit', (code, sig) => r(code ?? 128 + (sig ? (signalNumber(sig) ?? 0) : 0))));
  let gone = false;
  void exited.then(() => (gone = true));
  const end = Date.now() + 10_000;
  while (processState(pid) !== 'T') {
    if (gone || Date.now() > end) {
      child.kill('SIGKILL');
      throw new UsageError(`cannot run '${argv.join(' ')}': the launcher did not start`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return { child, pid, exited };
}

/** The library `lib<name>.so*` process `pid` maps. */
export function findLibrary(pid: number, name: string): MappedFile | undefined {
  return findMappedFile(pid, (p) => basename(p).startsWith(`lib${name}.so`));
}

/** The file offset of an ELF program's entry point (undefined for a script or an unreadable file). */
export function entryOffset(path: string): number | undefined {
  try {
    const elf = ElfFile.open(path);
    return elf.vaddrToFileOffset(elf.entry);
  } catch {
    return undefined;
  }
}

/** Polls `cond` (1 ms, doubling to 20 ms) for up to `ms`; false when `giveUp` says so first or time runs out. */
export async function until(cond: () => boolean, ms: number, giveUp: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  for (let step = 1; !cond(); step = Math.min(step * 2, 20)) {
    if (giveUp() || Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, step));
  }
  return true;
}
