// Shared by the opensnoop tests: a tracer that collects events, the CLI as a
// child process, and the `opener` workload (test/c/opener.c), which makes the
// exact open-family system calls a test asks for and prints what each returned.
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { opensnoop, type OpenEvent, type OpensnoopOptions, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A string no other process on the machine will use. */
export const uniq = (tag = 'o'): string => `${tag}-${process.pid}-${randomBytes(6).toString('hex')}`;

/** A running tracer and every event it has delivered so far. */
export type Capture = EventCapture<OpenEvent, Tracer<OpenEvent>>;

export function capture(opts: OpensnoopOptions = {}): Capture {
  return collect<OpenEvent, Tracer<OpenEvent>>(opensnoop(opts));
}

/** A temporary directory (world-readable: workloads may run as nobody), removed by cleanup. */
export function tempDir(base = tmpdir()): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(base, 'opensnoop-test-'));
  chmodSync(dir, 0o755);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Compiles test/c/opener.c into `dir`. */
export function buildOpener(dir: string): string {
  const bin = join(dir, 'opener');
  const src = new URL('./c/opener.c', import.meta.url).pathname;
  execFileSync('gcc', ['-O1', '-Wall', '-pthread', '-o', bin, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  return bin;
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
export function runOpener(bin: string, args: string[], opts: SpawnOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`opener exited ${code}`));
      const calls = out.split('\n').filter(Boolean).map((l) => {
        const [name, ret, errno, tid] = l.split(' ');
        return { name: name!, ret: Number(ret), errno: Number(errno), tid: Number(tid) };
      });
      resolve({ pid: child.pid!, calls });
    });
  });
}

/** A path as opener's hex: argument (any bytes). */
export const hexPath = (b: Buffer): string => `hex:${b.toString('hex')}`;

/** Targets of this process's fds that belong to BPF (maps, programs, links, perf events). */
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

export const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
export const HEADER = 'PID    COMM               FD ERR PATH';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process, output into a pipe, and what it printed so far. */
export class Cli {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;

  constructor(args: string[], opts: SpawnOptions = {}) {
    this.proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      this.proc.on('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })),
    );
  }

  /** Starts the CLI and waits for its header (the probes are attached then). */
  static async start(args: string[], header = HEADER): Promise<Cli> {
    const cli = new Cli(args);
    await cli.waitOutput((out) => out.startsWith(`${header}\n`), 15_000);
    return cli;
  }

  lines(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '');
  }

  async waitOutput(pred: (stdout: string) => boolean, ms = 8000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.stdout)) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`CLI exited early (${this.proc.exitCode ?? this.proc.signalCode}): ${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out; stdout so far:\n${this.stdout.slice(-2000)}`);
      await sleep(20);
    }
  }

  /** Waits for `n` lines matching `pred` and returns them. */
  async rows(pred: (line: string) => boolean, n: number): Promise<string[]> {
    await this.waitOutput(() => this.lines().filter(pred).length >= n);
    return this.lines().filter(pred);
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Exit> {
    this.proc.kill(signal);
    return this.exited;
  }
}

/** A clean end: status 0, nothing on stderr. */
export function expectCleanExit(e: Exit): void {
  expect(e.stderr).toBe('');
  expect([e.code, e.signal]).toEqual([0, null]);
}

/** BCC's row: "%-6d %-16s %4d %3d " then the path; widths in bytes. */
export function bccRow(id: number, comm: string, fd: number, err: number, path: string, pre = '', flags?: number): string {
  const padBytes = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - Buffer.byteLength(s)));
  const fl = flags === undefined ? '' : `${flags.toString(8).padStart(8, '0')} `;
  return `${pre}${padBytes(String(id), 6)} ${padBytes(comm, 16)} ${String(fd).padStart(4)} ${String(err).padStart(3)} ${fl}${path}`;
}

/** Rows of process `pid` (the ID column at `offset`). */
export const ofPid = (pid: number, offset = 0) => (l: string) => l.slice(offset).startsWith(`${pid} `);
