// Workloads the tests start: C programs compiled on demand (once per test
// process), and child processes whose output lines a test waits for.
// (Not a test file.)
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, type TempDir } from './tmp.js';
import { DEADLINE } from './wait.js';

// ---- C workloads ------------------------------------------------------------------

/** Where compileC() puts binaries: one directory per test process, removed at exit. */
let binDir: TempDir | undefined;
const built = new Map<string, string>();

export interface CompileOptions {
  /** The binary's file name (its comm): default, the source's name without .c. */
  name?: string;
  /** Flags after the defaults -O1 -Wall (a later -O wins): -pthread, -g, -Werror... */
  flags?: string[];
}

/**
 * Compiles one C program with cc and returns the binary's path. `source` is
 * a .c file (path or file: URL) or `{ name, code }`. Cached: the same source,
 * name and flags compile once per test process.
 */
export function compileC(source: string | URL | { name: string; code: string }, opts: CompileOptions = {}): string {
  let code: string;
  let name: string;
  // A source file's own folder is on the include path: it is built from a copy.
  let include: string[] = [];
  if (typeof source === 'object' && !(source instanceof URL)) {
    ({ code, name } = source);
  } else {
    const path = source instanceof URL ? fileURLToPath(source) : source;
    code = readFileSync(path, 'utf8');
    name = basename(path, '.c');
    include = ['-I', dirname(path)];
  }
  name = opts.name ?? name;
  const flags = ['-O1', '-Wall', ...include, ...(opts.flags ?? [])];
  const key = createHash('sha256').update(JSON.stringify([code, name, flags])).digest('hex').slice(0, 16);
  const cached = built.get(key);
  if (cached) return cached;
  binDir ??= tempDir('ebpf-test-bin-');
  const dir = join(binDir.dir, key);
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `${name}.c`);
  const bin = join(dir, name);
  writeFileSync(src, code);
  execFileSync('cc', [...flags, '-o', bin, src], { stdio: ['ignore', 'ignore', 'pipe'] });
  built.set(key, bin);
  return bin;
}

// ---- child processes --------------------------------------------------------------

export interface RunResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** What it wrote to stderr, when stderr is a pipe (else ''). */
  stderr: string;
  /** Wall milliseconds from spawn to the child's exit being collected. */
  ms: number;
}

/** Line matchers: a prefix the line starts with, or a predicate. */
export type LineMatch = string | ((line: string) => boolean);
const matcher = (m: LineMatch) => (typeof m === 'string' ? (l: string) => l.startsWith(m) : m);

/**
 * A started child process (no shell): its PID at once, its stdout and stderr
 * (when piped) as they come, its result once it has exited. stdio defaults to
 * ['ignore', 'pipe', 'inherit'].
 */
export class Child {
  /** Children not yet exited, for killChildren() after a failed test. */
  static readonly live = new Set<Child>();
  readonly proc: ChildProcess;
  readonly pid: number;
  stdout = '';
  stderr = '';
  /** Resolves once it has exited and its output is read; rejects if it could not start. */
  readonly done: Promise<RunResult>;
  #closed = false;
  #error: Error | undefined;
  /** Offset in stdout of the first line next() has not returned yet. */
  #next = 0;
  #waiters = new Set<() => void>();

  constructor(
    readonly file: string,
    args: string[],
    opts: SpawnOptions = {},
  ) {
    const t0 = Date.now();
    this.proc = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
    this.pid = this.proc.pid ?? -1;
    this.proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.#wake();
    });
    this.proc.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.proc.stdin?.on('error', () => {}); // EPIPE: it has exited, which done reports
    Child.live.add(this);
    this.done = new Promise((resolve, reject) => {
      this.proc.on('error', (err) => {
        this.#error = err;
        this.#closed = true;
        Child.live.delete(this);
        this.#wake();
        reject(err);
      });
      this.proc.on('close', (code, signal) => {
        this.#closed = true;
        Child.live.delete(this);
        this.#wake();
        resolve({ pid: this.pid, code, signal, stdout: this.stdout, stderr: this.stderr, ms: Date.now() - t0 });
      });
    });
    this.done.catch(() => {}); // reported by whoever awaits done, next() or line()
  }

  #wake(): void {
    for (const w of this.#waiters) w();
  }

  /** Waits until `get` returns a value, the child has closed, or `ms` passes. */
  #wait<T>(get: () => T | undefined, what: string, ms: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = get();
        if (v !== undefined) return finish(() => resolve(v));
        if (this.#closed) {
          return finish(() =>
            reject(this.#error ?? new Error(`${basename(this.file)} exited without ${what}; stdout: ${this.stdout.slice(-2000)}${this.stderr ? `\nstderr: ${this.stderr}` : ''}`)),
          );
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${basename(this.file)}: no ${what} in ${ms} ms; stdout: ${this.stdout.slice(-2000)}${this.stderr ? `\nstderr: ${this.stderr}` : ''}`))),
        ms,
      );
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        f();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** The next line of stdout not yet returned by next() (a line protocol, one answer per request). */
  next(ms: number = DEADLINE.output): Promise<string> {
    return this.#wait(
      () => {
        const nl = this.stdout.indexOf('\n', this.#next);
        if (nl < 0) return undefined;
        const line = this.stdout.slice(this.#next, nl);
        this.#next = nl + 1;
        return line;
      },
      'next line',
      ms,
    );
  }

  /** Waits for the next line and checks that it is `expected` (a workload's "ready"); throws with what it said otherwise. */
  async expectNext(expected: string, ms: number = DEADLINE.output): Promise<void> {
    const line = await this.next(ms);
    if (line !== expected) throw new Error(`${basename(this.file)} said ${JSON.stringify(line)}, not ${JSON.stringify(expected)}${this.stderr ? `: ${this.stderr}` : ''}`);
  }

  /** A line protocol's request: writes `command` and a newline, resolves with the next line it prints. */
  request(command: string, ms: number = DEADLINE.output): Promise<string> {
    this.write(`${command}\n`);
    return this.next(ms);
  }

  /** The first complete line of stdout (so far or to come) that matches. */
  line(match: LineMatch, ms: number = DEADLINE.output): Promise<string> {
    const pred = matcher(match);
    return this.#wait(
      () => this.stdout.split('\n').slice(0, -1).find(pred),
      typeof match === 'string' ? `"${match}" line` : 'matching line',
      ms,
    );
  }

  /** The first line of stdout. */
  get firstLine(): Promise<string> {
    return this.line(() => true);
  }

  get exited(): boolean {
    return this.#closed;
  }

  write(text: string): void {
    this.proc.stdin!.write(text);
  }

  /** Closes stdin (after writing `text`). */
  end(text?: string): void {
    this.proc.stdin!.end(text);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.#closed) this.proc.kill(signal);
  }

  /** Ends it: closes stdin (a workload's cue to exit), SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.proc.stdin?.end();
    const t = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.done.catch(() => {});
    clearTimeout(t);
  }
}

/** Starts `file` with exactly `args` (no shell). */
export function start(file: string, args: string[], opts: SpawnOptions = {}): Child {
  const c = new Child(file, args, opts);
  if (c.pid < 0) throw new Error(`${file} did not start`);
  return c;
}

/** Runs `file` with exactly `args` (no shell) and waits for it to exit; rejects if it cannot start. */
export function run(file: string, args: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  return new Child(file, args, opts).done;
}

/** Kills every child still running (after a failed test) and waits for them. */
export async function killChildren(): Promise<void> {
  const live = [...Child.live];
  for (const c of live) c.kill('SIGKILL');
  await Promise.all(live.map((c) => c.done.catch(() => {})));
}

/** The comm of the calling thread (what bpf_get_current_comm() reports, and a process it forks inherits). */
export function threadComm(): string {
  return readFileSync('/proc/thread-self/comm', 'utf8').trimEnd();
}

/** Whether `cmd` is on PATH (tests that compare with a reference tool skip without it). */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
