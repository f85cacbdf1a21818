// Shared by the execsnoop tests: a tracer that collects events, workloads
// started with explicit argv, and small C programs built on demand.
import { spawn, execFileSync, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execsnoop, type ExecEvent, type ExecsnoopOptions, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A string no other process on the machine will pass. */
export const uniq = (tag = 'm'): string => `${tag}-${process.pid}-${randomBytes(6).toString('hex')}`;

/** A running tracer and every event it has delivered so far. */
export type Capture = EventCapture<ExecEvent, Tracer<ExecEvent>>;

export function capture(opts: ExecsnoopOptions = {}): Capture {
  return collect<ExecEvent, Tracer<ExecEvent>>(execsnoop(opts));
}

export interface RunResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/** Runs `file` with exactly `args` (no shell) and waits for it to exit. */
export function run(file: string, args: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
    let stdout = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ pid: child.pid!, code, signal, stdout }));
  });
}

/** Spawns a path that does not exist; resolves once spawn has reported ENOENT. */
export function runMissing(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore' });
    child.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(err.code) : reject(err)));
    child.on('spawn', () => reject(new Error(`${file} unexpectedly started`)));
  });
}

/** Targets of this process's anonymous-inode fds that belong to BPF (maps, programs, links, perf events). */
export function bpfFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (/^anon_inode:(bpf|btf|\[perf_event\])/.test(target)) out.push(target);
  }
  return out.sort();
}

/** A temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'execsnoop-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Compiles one C source file with gcc into `dir`; returns the binary's path. */
export function compileC(dir: string, name: string, source: string, extra: string[] = []): string {
  const src = join(dir, `${name}.c`);
  const bin = join(dir, name);
  writeFileSync(src, source);
  execFileSync('gcc', ['-O1', '-Wall', '-o', bin, src, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  return bin;
}

/** The comm of the calling thread (what a process it forks inherits). */
export function threadComm(): string {
  return readFileSync('/proc/thread-self/comm', 'utf8').trimEnd();
}
