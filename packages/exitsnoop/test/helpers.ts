// Shared by the exitsnoop tests: a tracer that collects events, workloads
// started here (matched by PID: the machine runs other workloads too), small
// C programs built on demand, and the CLI as a child process.
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitsnoop, type ExitEvent, type ExitsnoopOptions, type Tracer } from '../src/index.js';
import { collect, type Capture as EventCapture } from '../../../test/support/events.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A running tracer and every event it has delivered so far. */
export type Capture = EventCapture<ExitEvent, Tracer<ExitEvent>>;

export function capture(opts: ExitsnoopOptions = {}): Capture {
  return collect<ExitEvent, Tracer<ExitEvent>>(exitsnoop(opts));
}

export interface RunResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** Wall milliseconds from spawn to the child's exit being collected. */
  ms: number;
}

/** A started child: its PID now, its result later. */
export interface Started {
  child: ChildProcess;
  pid: number;
  /** Resolves with the first line of stdout. */
  firstLine: Promise<string>;
  done: Promise<RunResult>;
}

/** Starts `file` with exactly `args` (no shell). */
export function start(file: string, args: string[], opts: SpawnOptions = {}): Started {
  const t0 = Date.now();
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
  let stdout = '';
  let lineResolve: (l: string) => void;
  const firstLine = new Promise<string>((r) => (lineResolve = r));
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => {
    stdout += d;
    const nl = stdout.indexOf('\n');
    if (nl >= 0) lineResolve(stdout.slice(0, nl));
  });
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ pid: child.pid!, code, signal, stdout, ms: Date.now() - t0 }));
  });
  if (child.pid === undefined) throw new Error(`${file} did not start`);
  return { child, pid: child.pid, firstLine, done };
}

/** Runs `file` with `args` and waits for it to exit. */
export function run(file: string, args: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  return start(file, args, opts).done;
}

/** Runs a shell snippet with core dumps off (`ulimit -c 0`), so signals leave no core files. */
export function sh(script: string, opts: SpawnOptions = {}): Promise<RunResult> {
  return run('/bin/sh', ['-c', `ulimit -c 0; ${script}`], opts);
}

/** A temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'exitsnoop-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const C_DIR = new URL('./c/', import.meta.url).pathname;

/** Compiles test/c/<name>.c with gcc into `dir`; returns the binary's path. */
export function compileC(dir: string, name: string, extra: string[] = []): string {
  const bin = join(dir, name);
  execFileSync('gcc', ['-O1', '-Wall', '-o', bin, join(C_DIR, `${name}.c`), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  return bin;
}

/** The machine's core_pattern: a leading "|" hands cores to a program instead of a file. */
export function corePattern(): string {
  return readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
}

// ---------------------------------------------------------------------------
// The CLI

export const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
export const HEADER = 'PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running CLI and what it has printed so far. */
export class Cli {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;

  constructor(args: string[], opts: { wrap?: string[]; env?: NodeJS.ProcessEnv } = {}) {
    const wrap = opts.wrap ?? [];
    const [cmd, ...pre] = wrap.length ? wrap : [process.execPath];
    this.proc = spawn(cmd!, [...pre, ...(wrap.length ? [process.execPath] : []), CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      this.proc.on('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })),
    );
  }

  /** Starts the CLI and waits until it prints its header (tracing is attached then). */
  static async start(args: string[], header = HEADER, env?: NodeJS.ProcessEnv): Promise<Cli> {
    const cli = new Cli(args, { env });
    await cli.waitOutput((out) => out.startsWith(`${header}\n`), 10_000);
    return cli;
  }

  lines(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '');
  }

  async waitOutput(pred: (stdout: string) => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.stdout)) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`CLI exited early (${this.proc.exitCode ?? this.proc.signalCode}): ${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out; stdout so far:\n${this.stdout.slice(-2000)}`);
      await sleep(20);
    }
  }

  /** The one row whose PID column (at byte `offset`) is `pid`, waiting for it. */
  async row(pid: number, offset = 17): Promise<string> {
    const match = (l: string) => Buffer.from(l).subarray(offset).toString().startsWith(`${pid} `);
    await this.waitOutput(() => this.lines().some(match));
    const found = this.lines().filter(match);
    if (found.length !== 1) throw new Error(`expected one row for ${pid}, got:\n${found.join('\n')}`);
    return found[0]!;
  }

  /** Rows whose PID column is `pid`, now. */
  rows(pid: number, offset = 17): string[] {
    return this.lines().filter((l) => Buffer.from(l).subarray(offset).toString().startsWith(`${pid} `));
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Exit> {
    this.proc.kill(signal);
    return this.exited;
  }
}

/** A clean end: status 0, nothing on stderr. */
export function cleanExit(e: Exit): [number | null, NodeJS.Signals | null, string] {
  return [e.code, e.signal, e.stderr];
}
