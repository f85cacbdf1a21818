// Shared by the memleak tests: the C workloads (built once per test file),
// a workload driven through stdin, and the CLI run as users run it.
import { execFileSync, spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Report, StackReport } from '../src/index.js';

export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const C_DIR = fileURLToPath(new URL('./c/', import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Builds the workloads with gcc (-fno-omit-frame-pointer) into a temporary directory. */
export function buildWorkloads(): { dir: string; workload: string; startleak: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'memleak-test-'));
  const build = (name: string, extra: string[] = []) => {
    const bin = join(dir, name);
    execFileSync('gcc', ['-O1', '-g', '-Wall', '-Werror', '-fno-omit-frame-pointer', '-o', bin, join(C_DIR, `${name}.c`), ...extra], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return bin;
  };
  return {
    dir,
    workload: build('workload', ['-pthread']),
    startleak: build('startleak'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * test/c/workload.c: prints "ready", allocates when told (go()), prints
 * "done", exits when stdin closes (stop()).
 */
export class Workload {
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  private constructor(bin: string, args: string[]) {
    this.child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout }).on('line', (l) => {
      this.#lines.push(l);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
  }

  static async start(bin: string, mode: string, leaks: number, size: number, tidy = 0): Promise<Workload> {
    const w = new Workload(bin, [mode, String(leaks), String(size), String(tidy)]);
    const first = await w.line();
    if (first !== 'ready') throw new Error(`workload said ${first}`);
    return w;
  }

  get pid(): number {
    return this.child.pid!;
  }

  line(ms = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('workload: no output')), ms);
      const take = () => {
        if (this.#lines.length) {
          clearTimeout(timer);
          resolve(this.#lines.shift()!);
        } else this.#waiters.push(take);
      };
      take();
    });
  }

  /** Lets it allocate; resolves when it is done. */
  async go(): Promise<void> {
    this.child.stdin.write('go\n');
    const l = await this.line();
    if (l !== 'done') throw new Error(`workload said ${l}`);
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    await this.exited;
  }
}

/** The stacks whose frames name `fn`. */
export function stacksOf(r: Report, fn: string): StackReport[] {
  return r.stacks.filter((s) => s.frames.some((f) => f.name === fn));
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The CLI as users run it: a child process writing into pipes. */
export class Cli {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      this.proc.on('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })),
    );
  }

  async waitOutput(pred: (stdout: string) => boolean, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.stdout)) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`CLI exited early (${this.proc.exitCode ?? this.proc.signalCode}): ${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out; stdout so far:\n${this.stdout.slice(-2000)}\nstderr:\n${this.stderr}`);
      await sleep(20);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Exit> {
    this.proc.kill(signal);
    return this.exited;
  }
}

/** Runs the CLI to its end. */
export function runCli(args: string[]): Promise<Exit> {
  return new Cli(args).exited;
}

/** One report of BCC's text format, parsed back: the stacks with their frame lines. */
export interface TextStack {
  bytes: number;
  allocations: number;
  frames: string[];
}
export interface TextReport {
  header: string;
  shown: number;
  addrs: string[];
  stacks: TextStack[];
}

/** Splits CLI output into its reports (the lines from one "[HH:MM:SS] Top" header to the next). */
export function parseReports(stdout: string): TextReport[] {
  const out: TextReport[] = [];
  let cur: TextReport | undefined;
  for (const line of stdout.split('\n')) {
    const h = line.match(/^\[\d\d:\d\d:\d\d\] Top (\d+) stacks with outstanding allocations:$/);
    if (h) {
      cur = { header: line, shown: Number(h[1]), addrs: [], stacks: [] };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const a = line.match(/^\taddr = ([0-9a-f]+) size = (\d+)$/);
    const s = line.match(/^\t(\d+) bytes in (\d+) allocations from stack$/);
    if (a) cur.addrs.push(line);
    else if (s) cur.stacks.push({ bytes: Number(s[1]), allocations: Number(s[2]), frames: [] });
    else if (line.startsWith('\t\t') && cur.stacks.length) cur.stacks[cur.stacks.length - 1]!.frames.push(line);
    else if (line !== '') cur = undefined;
  }
  return out;
}
