// A tool's CLI as users run it: a child process (node dist/cli.js ARGS)
// writing into pipes, what it has printed so far, waits on that output with
// deadlines, signals, and its exit. (Not a test file.)
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { bpfLinks } from './bpf.js';
import { tempDir } from './tmp.js';
import { killChildren } from './workload.js';
import { DEADLINE, sleep } from './wait.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** A command line to run node under (e.g. setpriv ... to drop root). */
  wrap?: string[];
  env?: NodeJS.ProcessEnv;
  /** Byte offset of the PID column in a row, for row(pid) and rows(pid). */
  pidColumn?: number;
}

/**
 * When a started CLI is ready (attached): a string is its first line (a
 * header or banner; stdout starts with it and a newline), a function a test
 * of stdout, `{ links }` the number of BPF links it holds (for output with no
 * header, such as --json).
 */
export type Ready = string | ((stdout: string) => boolean) | { links: number };

/** Rows a test is after: a PID (in the PID column), or a predicate. */
export type RowMatch = number | ((line: string) => boolean);

/** Lines of `pid`: the PID at `byteOffset` (columns are padded in bytes), followed by a space. */
export const pidAt =
  (pid: number, byteOffset = 0) =>
  (line: string): boolean =>
    Buffer.from(line).subarray(byteOffset).toString().startsWith(`${pid} `);

/** A running CLI and what it has printed so far. */
export class Cli {
  /** CLIs not yet exited, for stopAll() after a failed test. */
  static readonly running = new Set<Cli>();
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  /** Resolves once it has exited and its output is read. */
  readonly exited: Promise<Exit>;
  readonly pidColumn: number;
  #closed = false;

  constructor(script: string, args: string[], opts: CliOptions = {}) {
    const argv = [...(opts.wrap ?? []), process.execPath, script, ...args];
    this.pidColumn = opts.pidColumn ?? 0;
    this.proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    Cli.running.add(this);
    this.exited = new Promise((resolve) =>
      this.proc.on('close', (code, signal) => {
        this.#closed = true;
        Cli.running.delete(this);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      }),
    );
  }

  /** SIGKILLs every CLI still running (after a failed test) and waits for them. */
  static async stopAll(): Promise<void> {
    await Promise.all([...Cli.running].map((c) => c.stop('SIGKILL')));
  }

  /** Non-empty lines of stdout so far. */
  lines(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '');
  }

  #exitedEarly(): Error {
    return new Error(`CLI exited early (${this.proc.exitCode ?? this.proc.signalCode}): ${this.stderr}`);
  }

  /** Waits until `pred` holds of stdout; throws if the CLI exits first, or after `ms`. */
  async waitOutput(pred: (stdout: string) => boolean, ms: number = DEADLINE.output): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.stdout)) {
      if (this.#closed) throw this.#exitedEarly();
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        // exited: what it printed last may still be in the pipe
        await Promise.race([this.exited, sleep(1000)]);
        if (pred(this.stdout)) return;
        throw this.#exitedEarly();
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${ms} ms; stdout so far:\n${this.stdout.slice(-2000)}\nstderr:\n${this.stderr}`);
      }
      await sleep(20);
    }
  }

  /** Waits until the CLI is ready (see Ready). */
  async waitReady(ready: Ready, ms: number = DEADLINE.start): Promise<void> {
    if (typeof ready === 'string') return this.waitOutput((out) => out.startsWith(`${ready}\n`), ms);
    if (typeof ready === 'function') return this.waitOutput(ready, ms);
    const deadline = Date.now() + ms;
    while (bpfLinks(this.proc.pid!) < ready.links) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw this.#exitedEarly();
      if (Date.now() > deadline) throw new Error(`CLI did not attach ${ready.links} BPF links in ${ms} ms: ${this.stderr}`);
      await sleep(20);
    }
  }

  /**
   * For output with no header (--json): makes a probe event with `poke`
   * (which returns a text its event prints) every `everyMs` until one shows
   * up on stdout; from then on the CLI is attached.
   */
  async waitProbe(poke: () => string | Promise<string>, ms: number = DEADLINE.start, everyMs = 100): Promise<void> {
    const deadline = Date.now() + ms;
    const marks: string[] = [];
    for (;;) {
      marks.push(await poke());
      await sleep(everyMs);
      if (marks.some((m) => this.stdout.includes(m))) return;
      if (this.#closed) throw this.#exitedEarly();
      if (Date.now() > deadline) throw new Error(`no probe event on stdout in ${ms} ms; stderr: ${this.stderr}`);
    }
  }

  #pred(match: RowMatch, offset = this.pidColumn): (line: string) => boolean {
    return typeof match === 'number' ? pidAt(match, offset) : match;
  }

  /** Lines that match, now. */
  rows(match: RowMatch, offset?: number): string[] {
    return this.lines().filter(this.#pred(match, offset));
  }

  /** Waits for at least `n` lines that match; returns every one. */
  async waitRows(match: RowMatch, n: number, offset?: number): Promise<string[]> {
    const pred = this.#pred(match, offset);
    await this.waitOutput(() => this.lines().filter(pred).length >= n);
    return this.lines().filter(pred);
  }

  /** The one line that matches (waits for it; fails the test if there are more). */
  async row(match: RowMatch, offset?: number): Promise<string> {
    const found = await this.waitRows(match, 1, offset);
    expect(found).toHaveLength(1);
    return found[0]!;
  }

  /** The one line containing `text` (waits for it; fails the test if there are more). */
  line(text: string): Promise<string> {
    return this.row((l) => l.includes(text));
  }

  /** Sends `signal` (unless it has exited already) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Exit> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

/** One tool's CLI script, with its defaults. */
export interface Tool {
  /** dist/cli.js (or another entry) of the tool. */
  readonly path: string;
  /** Starts it; no waiting. */
  spawn(args: string[], opts?: CliOptions): Cli;
  /** Starts it and waits until it is ready (default: the tool's header). */
  start(args: string[], ready?: Ready, opts?: CliOptions): Promise<Cli>;
  /** Runs it to its exit. */
  run(args: string[], opts?: CliOptions): Promise<Exit>;
}

/**
 * A tool's CLI: `script` is its entry (a path or file: URL); `ready` what
 * start() waits for by default, `pidColumn` where row(pid) looks for a PID.
 */
export function tool(script: string | URL, defaults: { ready?: Ready; pidColumn?: number } = {}): Tool {
  const path = typeof script === 'string' ? script : script.pathname;
  const spawnCli = (args: string[], opts: CliOptions = {}) => new Cli(path, args, { pidColumn: defaults.pidColumn, ...opts });
  return {
    path,
    spawn: spawnCli,
    async start(args, ready = defaults.ready, opts) {
      if (ready === undefined) throw new Error('tool(): no ready condition to start with');
      const cli = spawnCli(args, opts);
      try {
        await cli.waitReady(ready);
      } catch (err) {
        await cli.stop('SIGKILL');
        throw err;
      }
      return cli;
    },
    run: (args, opts) => spawnCli(args, opts).exited,
  };
}

/** Runs node as nobody (no root, no capabilities): a `wrap` for CliOptions. */
export const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** A clean end: status 0, nothing on stderr (no stack trace). */
export function expectCleanExit(e: Exit): void {
  expect(e.stderr).not.toMatch(/^\s+at /m);
  expect(e.stderr).toBe('');
  expect([e.code, e.signal]).toEqual([0, null]);
}

/**
 * An error end: exit `code` (no signal), nothing on stdout, exactly one line
 * on stderr, newline-terminated, no stack trace. Returns that line.
 */
export function errorLine(e: Exit, code: number, what?: string): string {
  expect([e.code, e.signal], what).toEqual([code, null]);
  expect(e.stdout, what).toBe('');
  expect(e.stderr, what).not.toMatch(/^\s+at /m);
  expect(e.stderr.endsWith('\n'), what).toBe(true);
  const lines = e.stderr.split('\n').slice(0, -1);
  expect(lines, what).toHaveLength(1);
  return lines[0]!;
}

/** --help: exit 0, nothing on stderr, usage first, every flag on a line of its own ("  FLAG "). */
export function expectHelp(e: Exit, usage: string, flags: string[]): void {
  expect([e.code, e.signal, e.stderr]).toEqual([0, null, '']);
  expect(e.stdout.startsWith(usage), e.stdout).toBe(true);
  for (const flag of flags) expect(e.stdout, flag).toContain(`  ${flag} `);
}

export interface HeadRun {
  /** Whether the pipeline ended before the deadline. */
  ended: boolean;
  /** bash -o pipefail's status: the CLI's own, once head has gone ([code, signal]; null if it never ended). */
  status: [number | null, NodeJS.Signals | null] | null;
  /** What head printed. */
  out: string;
  /** What the CLI wrote to stderr. */
  stderr: string;
}

/**
 * Runs `node SCRIPT ARGS 2>FILE | head -n LINES` under bash -o pipefail and
 * calls `poke` (which makes events) until the pipeline ends or `ms` passes:
 * a closed pipe must end the CLI by itself.
 */
export async function throughHead(
  script: string,
  args: string[],
  poke: () => unknown,
  { lines = 2, ms = DEADLINE.start, everyMs = 50 }: { lines?: number; ms?: number; everyMs?: number } = {},
): Promise<HeadRun> {
  const tmp = tempDir('ebpf-test-head-');
  const err = join(tmp.dir, 'stderr');
  const pipeline = spawn(
    '/bin/bash',
    ['-o', 'pipefail', '-c', `"$0" "$@" 2>"$CLI_STDERR" | head -n ${lines}`, process.execPath, script, ...args],
    // its own process group: if it does not end, the whole pipeline is killed
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CLI_STDERR: err }, detached: true },
  );
  let out = '';
  pipeline.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  let status: HeadRun['status'] = null;
  const closed = new Promise<void>((r) =>
    pipeline.on('close', (code, sig) => {
      status = [code, sig];
      r();
    }),
  );
  try {
    const deadline = Date.now() + ms;
    while (status === null && Date.now() < deadline) {
      await poke();
      await sleep(everyMs);
    }
    return { ended: status !== null, status, out, stderr: readFileSync(err, 'utf8') };
  } finally {
    if (status === null) {
      process.kill(-pipeline.pid!, 'SIGKILL');
      await closed;
    }
    tmp.cleanup();
  }
}

/**
 * For a CLI test file: after each test, a failed one too, stops every tracer
 * (Cli) and every workload (killChildren) still alive, so none outlives it.
 */
export function stopAfterEach(): void {
  afterEach(async () => {
    await Cli.stopAll();
    await killChildren();
  });
}
