// What every tool's CLI shares: batched output, clean shutdown on every way a
// run can end (Ctrl-C, SIGTERM, SIGHUP, a closed pipe, --duration, the tool
// finishing), lost-event reporting, and one-line errors with exit codes.
//
// Exit codes: 0 normal end (including Ctrl-C and a closed pipe), 1 runtime
// failure (missing privilege or kernel feature, load/attach failure), 2 bad
// usage (unknown flag, bad value), as BCC's argparse does.
import { existsSync, readFileSync } from 'node:fs';
import { EbpfError, LoadError, PreflightError, UsageError } from '../errors.js';
import { RowBuffer } from '../format/rowbuffer.js';
import { PID_LIMIT } from '../kernel/procfs.js';
import type { Tracer } from '../stream/tracer.js';

/**
 * Output that costs the traced workload little: rows go as bytes into one
 * reused buffer (RowBuffer); on a terminal each batch is written at once,
 * into a pipe or file writes are gathered into large chunks (64 KiB, or
 * 100 ms after the first row waiting, and at exit). A closed pipe ends the
 * run quietly; any other write error (a full disk) ends it with one line.
 */
export class Output {
  readonly isTTY: boolean;
  /** Rows, as bytes: tools with a fast path write records straight into it. */
  readonly rows: RowBuffer;
  #timer: NodeJS.Timeout | undefined;
  #broken = false;
  #source: { pause(): void; resume(): void } | undefined;
  #paused = false;
  static readonly MAX_DELAY_MS = 100;
  /**
   * Bytes queued behind a full pipe past which the event source is paused
   * until the pipe drains. Node writes a pipe without blocking and queues
   * what the reader of the pipe has not taken yet: with no bound, a slow
   * reader (`| grep`, a parent counting lines) grows our memory by the whole
   * storm. Paused, the records wait in the kernel ring, and what does not fit
   * there is dropped and counted, as with any slow consumer.
   */
  static readonly QUEUE_BYTES = 1 << 20;

  constructor(onBroken: (err: NodeJS.ErrnoException) => void) {
    this.isTTY = !!process.stdout.isTTY;
    this.rows = new RowBuffer((chunk) => {
      if (this.#broken) return true;
      // A write's callback never runs before write() returns: `kept` is set
      // by then when the chunk stays queued, and only such a chunk comes back.
      let kept = false;
      process.stdout.write(chunk, () => kept && this.rows.recycle(chunk));
      const queued = process.stdout.writableLength;
      if (queued > Output.QUEUE_BYTES && this.#source && !this.#paused) {
        this.#paused = true;
        this.#source.pause();
        process.stdout.once('drain', () => {
          this.#paused = false;
          this.#source?.resume();
        });
      }
      // Files and terminals are written synchronously; when nothing is left
      // queued, the chunk's memory is free to reuse at once.
      kept = queued !== 0;
      return !kept;
    });
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (this.#broken) return;
      this.#broken = true;
      onBroken(err);
    });
  }

  /** The events' source (a ring reader): paused while a slow pipe holds QUEUE_BYTES of ours. */
  throttle(source: { pause(): void; resume(): void }): void {
    this.#source = source;
  }

  /** Queues text (lines with their "\n"). */
  write(text: string): void {
    if (!this.#broken) this.rows.text(text);
  }

  /** Call after each batch of events: a terminal sees it now, a pipe soon. */
  endBatch(): void {
    if (this.isTTY) this.flush();
    else if (!this.#timer && this.rows.pending > 0) {
      this.#timer = setTimeout(() => this.flush(), Output.MAX_DELAY_MS);
      this.#timer.unref();
    }
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#broken) this.rows.pos = 0;
    else this.rows.flush();
  }

  get broken(): boolean {
    return this.#broken;
  }
}

/** Node's timers fire at once past 2^31-1 ms: longer waits go in steps. Unref'd. */
export function longTimeout(fn: () => void, ms: number): { cancel(): void } {
  const MAX = 2 ** 31 - 1;
  let timer: NodeJS.Timeout;
  const step = (left: number) => {
    timer = setTimeout(() => (left > MAX ? step(left - MAX) : fn()), Math.min(left, MAX));
    timer.unref();
  };
  step(ms);
  return { cancel: () => clearTimeout(timer) };
}

/** Prints `<tool>: <message>` to stderr: the one-line error convention. */
export function printError(tool: string, message: string): void {
  process.stderr.write(`${tool}: ${message}\n`);
}

/** Maps an error to its message and exit code, never a stack trace (unless EBPF_DEBUG is set). */
export function describeError(err: unknown, verbose = false): { message: string; exitCode: number } {
  if (err instanceof UsageError) return { message: err.message, exitCode: 2 };
  if (err instanceof PreflightError) return { message: err.message, exitCode: 1 };
  if (err instanceof LoadError) {
    const detail = verbose && err.log ? `\n${err.log.trimEnd()}` : ' (run with -v for the verifier log)';
    return { message: `${err.message}${detail}`, exitCode: 1 };
  }
  if (err instanceof EbpfError) {
    const log = verbose && 'log' in err && typeof err.log === 'string' && err.log ? `\n${err.log.trimEnd()}` : '';
    return { message: `${err.message}${log}`, exitCode: 1 };
  }
  const e = err as { code?: string; message?: string };
  // commander's own errors (unknown option, bad argument) are usage errors.
  if (typeof e?.code === 'string' && e.code.startsWith('commander.')) return { message: e.message ?? String(err), exitCode: 2 };
  return { message: e?.message ?? String(err), exitCode: 1 };
}

export interface SessionOptions {
  tool: string;
  /** Stop after this many seconds. */
  durationSeconds?: number;
  /** Reports lost events to stderr, as the classic tools do. */
  lost?: () => number;
  /** Text for the lost-events line (default BCC's "Possibly lost N samples"). */
  lostMessage?: (n: number) => string;
}

/**
 * One run of a CLI tool: owns the output and ends the run cleanly however it
 * ends. `onStop` callbacks run once, in order (detach, final report...), then
 * output is flushed and the process exits with the code.
 */
export class Session {
  readonly tool: string;
  readonly out: Output;
  #stops: Array<() => void> = [];
  #stopping = false;
  #lost: (() => number) | undefined;
  #lostReported = 0;
  #lostMessage: (n: number) => string;
  #lostTimer: NodeJS.Timeout | undefined;
  #done: Promise<number>;
  #resolve!: (code: number) => void;
  #writeFailed = false;

  constructor(opts: SessionOptions) {
    this.tool = opts.tool;
    this.out = new Output((err) => {
      // A closed pipe (`| head`) is a normal end; anything else is one line,
      // and exit 1 even when the run was already ending (the last flush).
      if (err.code === 'EPIPE') return this.stop(0);
      printError(this.tool, `cannot write output: ${err.code ? `${err.code}: ` : ''}${err.message.replace(/^\w+: /, '')}`);
      this.#writeFailed = true;
      this.stop(1);
    });
    this.#lost = opts.lost;
    this.#lostMessage = opts.lostMessage ?? ((n) => `Possibly lost ${n} samples`);
    this.#done = new Promise((r) => (this.#resolve = r));
    const onSignal = () => this.stop(0);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    if (opts.durationSeconds !== undefined) {
      longTimeout(() => this.stop(0), opts.durationSeconds * 1000);
    }
    if (this.#lost) {
      this.#lostTimer = setInterval(() => this.reportLost(), 1000);
      this.#lostTimer.unref();
    }
  }

  /** Sets the lost-events source once the tracer exists. */
  setLost(lost: () => number): void {
    this.#lost = lost;
    if (!this.#lostTimer) {
      this.#lostTimer = setInterval(() => this.reportLost(), 1000);
      this.#lostTimer.unref();
    }
  }

  /** Prints how many more events were lost since the last report. */
  reportLost(): void {
    if (!this.#lost) return;
    let n: number;
    try {
      n = this.#lost();
    } catch {
      return;
    }
    if (n > this.#lostReported) {
      this.out.flush();
      process.stderr.write(`${this.#lostMessage(n - this.#lostReported)}\n`);
      this.#lostReported = n;
    }
  }

  /** Runs at stop, before output is flushed (e.g. tracer.close(), a final histogram). */
  onStop(fn: () => void): void {
    this.#stops.push(fn);
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Ends the run: stop callbacks, lost report, flush, exit code. Idempotent. */
  stop(code = 0): void {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#lostTimer) clearInterval(this.#lostTimer);
    for (const fn of this.#stops) {
      try {
        fn();
      } catch (err) {
        const d = describeError(err);
        printError(this.tool, d.message);
        code = code || d.exitCode;
      }
    }
    this.reportLost();
    this.out.flush();
    // A failed write of that last flush is reported on a later tick (the
    // stream's error event): decide the exit code after it.
    setImmediate(() => this.#resolve(this.#writeFailed ? 1 : code));
  }

  /** Resolves with the exit code once the run has stopped. */
  get done(): Promise<number> {
    return this.#done;
  }
}

/**
 * Runs a CLI's main function: any error becomes one line on stderr and an exit
 * code, and the process exits when the session says so, even if something
 * (a libuv handle) would keep it alive.
 */
export async function runMain(tool: string, main: () => Promise<number>, verbose = () => false): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (err) {
    if (process.env.EBPF_DEBUG) console.error(err);
    const d = describeError(err, verbose());
    printError(tool, d.message);
    code = d.exitCode;
  }
  // Let stdout drain before exiting (a pipe may still hold the last chunk).
  if (process.stdout.writableLength > 0 && !process.stdout.destroyed) {
    await new Promise<void>((resolve) => {
      process.stdout.once('drain', resolve);
      process.stdout.once('error', () => resolve());
      process.stdout.once('close', () => resolve());
    });
  }
  process.exit(code);
}

/** Parses a positive integer option, or throws a UsageError naming the flag. */
export function parsePositiveInt(flag: string, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value.trim())) throw new UsageError(`invalid ${flag} value '${value}': expected a positive integer`);
    const n = Number(value);
    if (n < 1 || n > max) throw new UsageError(`invalid ${flag} value '${value}': expected 1..${max}`);
    return n;
  };
}

/** Parses a non-negative integer (0 allowed: UID 0, say). */
export function parseNonNegativeInt(flag: string, max = 0xffffffff): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value.trim())) throw new UsageError(`invalid ${flag} value '${value}': expected a non-negative integer`);
    const n = Number(value);
    if (n > max) throw new UsageError(`invalid ${flag} value '${value}': must be at most ${max}`);
    return n;
  };
}

/** Parses a PID: a positive integer naming a live process. */
export function parsePid(flag: string): (value: string) => number {
  const asInt = parsePositiveInt(flag, PID_LIMIT);
  return (value: string) => {
    const pid = asInt(value);
    if (!existsSync(`/proc/${pid}`)) throw new UsageError(`invalid ${flag} value '${value}': no such process`);
    return pid;
  };
}

/** A UID, or a user name looked up in /etc/passwd (as BCC's getpwnam). */
export function parseUser(flag: string): (value: string) => number {
  return (value: string) => {
    if (/^\d+$/.test(value)) return parseNonNegativeInt(flag)(value);
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const f = line.split(':');
        if (f[0] === value && f[2] !== undefined) return Number(f[2]);
      }
    } catch {
      // no passwd file: fall through
    }
    throw new UsageError(`'${value}' is not valid UID or user entry`);
  };
}

/** A regular expression option, with the flag named in the error. */
export function parseRegex(flag: string): (value: string) => RegExp {
  return (value: string) => {
    try {
      return new RegExp(value);
    } catch (err) {
      throw new UsageError(`invalid ${flag} regular expression '${value}': ${(err as Error).message}`);
    }
  };
}

export interface EventToolOptions<E> {
  session: Session;
  /** Starts tracing (after flags are parsed and the session exists). */
  start: () => Tracer<E>;
  /** Printed once the probes are attached (omit for --json). */
  header?: string;
  /** One output line (with its "\n") per event; '' to skip an event. */
  format: (ev: E) => string;
}

/**
 * The run loop of an event tool: start, print the header, print every batch,
 * report lost events, and stop cleanly on any ending the Session handles.
 * Resolves with the exit code.
 */
export function runEventTool<E>(opts: EventToolOptions<E>): Promise<number> {
  const { session, format } = opts;
  const tracer = opts.start();
  session.onStop(() => tracer.close());
  session.setLost(() => tracer.lost().ring);
  const out = session.out;
  if (opts.header !== undefined) out.write(`${opts.header}\n`);
  out.flush();
  tracer.subscribe((events) => {
    for (const ev of events) out.write(format(ev));
    out.endBatch();
  });
  return session.done;
}

/**
 * commander's error output as the tools print errors: `<tool>: <message>`
 * (commander writes `error: <message>`). Use: `.configureOutput(commanderOutput('execsnoop'))`.
 */
export function commanderOutput(tool: string): { outputError: (str: string, write: (s: string) => void) => void } {
  return { outputError: (str, write) => write(str.replace(/^error: /, `${tool}: `)) };
}

/**
 * commander's exits as argparse's: `--help` 0, any usage error (unknown
 * option, missing value, extra argument) 2. Use: `.exitOverride(commanderExit)`.
 */
export function commanderExit(err: { exitCode: number }): never {
  process.exit(err.exitCode === 0 ? 0 : 2);
}
