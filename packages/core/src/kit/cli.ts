// A tool's command line from its declarations: commander with the tool's
// options, the common flags (--json, -v), BCC's error and exit conventions;
// then the run loops of the three shapes of tool:
//   runEventCli:    streaming tools, one row per event;
//   runPeriodicCli: interval histograms and reports (a snapshot per interval).
// Every ending (Ctrl-C, SIGTERM, SIGHUP, a closed pipe, a full disk,
// --duration, interval×count) detaches every probe and flushes every line.
import { Command } from 'commander';
import { Session, commanderExit, commanderOutput, describeError, printError, runMain } from '../cli/index.js';
import { setLibbpfVerbose } from '../bpf/libbpf.js';
import { hhmmss, pad } from '../format/index.js';
import { jsonFields, jsonLine } from '../format/json.js';
import type { RowBuffer } from '../format/rowbuffer.js';
import type { IntervalOptions, Periodic } from './periodic.js';
import type { BpfObject } from '../bpf/object.js';
import type { EventTool } from './event.js';
import { describeRing } from './program.js';
import { commanderOptions, int, type FlagsOf, type OptionDefs, type OptionsOf, type ValueType } from './options.js';

/** A positional argument ([interval] [count]). */
export interface ArgDef {
  name: string;
  help: string;
  type: ValueType<number>;
  default?: number;
}

export interface CommandDef<D extends OptionDefs> {
  name: string;
  description: string;
  /** Every flag, in the order --help lists them: the tool's options and display-only flags. */
  options: D;
  args?: ArgDef[];
  /** The examples block of --help. */
  examples?: string;
  /** --json's flags and help (default '--json', 'print one JSON object per event'). */
  jsonFlag?: { flags: string; help: string };
  /** -v's help (default "print libbpf's debug messages"). */
  verboseHelp?: string;
  /** commander's "(Did you mean --json?)" line after an unknown option (default true). */
  suggestions?: boolean;
}

export interface ParsedCommand<D extends OptionDefs> {
  /** Every flag's value, by declaration key. */
  flags: FlagsOf<D>;
  /** The API options among them. */
  options: OptionsOf<D>;
  args: Array<number | undefined>;
  json: boolean;
  verbose: boolean;
}

/** The commander Command for a tool (also for tests of --help). */
export function toolCommand<D extends OptionDefs>(def: CommandDef<D>): Command {
  const cmd = new Command(def.name).description(def.description);
  for (const a of def.args ?? []) {
    cmd.argument(`[${a.name}]`, a.help, (v: string) => a.type.parse(v, a.name), a.default);
  }
  for (const o of Object.values(def.options)) if (!o.apiOnly) for (const c of commanderOptions(o)) cmd.addOption(c);
  // A tool that declares `json` among its options places --json in --help itself.
  const json = def.jsonFlag ?? { flags: '--json', help: 'print one JSON object per event' };
  if (!('json' in def.options)) cmd.option(json.flags, json.help);
  cmd.option('-v, --verbose', def.verboseHelp ?? "print libbpf's debug messages");
  if (def.examples) cmd.addHelpText('after', `\n${def.examples}`);
  if (def.suggestions === false) cmd.showSuggestionAfterError(false);
  return cmd.configureOutput(commanderOutput(def.name)).exitOverride(commanderExit);
}

/** Parses argv into flags, API options and positional arguments. */
export function parseCommand<D extends OptionDefs>(def: CommandDef<D>, argv: string[]): ParsedCommand<D> {
  const cmd = toolCommand(def);
  cmd.parse(argv);
  const raw = cmd.opts();
  const flags: Record<string, unknown> = {};
  const options: Record<string, unknown> = {};
  const byAttr = new Map(cmd.options.map((o) => [o.flags, o.attributeName()]));
  for (const [key, o] of Object.entries(def.options)) {
    if (o.apiOnly) continue;
    const v = raw[byAttr.get(o.flags)!];
    flags[key] = v;
    if (!o.cliOnly && v !== undefined) options[key] = v;
  }
  const verbose = !!raw.verbose;
  if (verbose) setLibbpfVerbose(true);
  return { flags: flags as FlagsOf<D>, options: options as OptionsOf<D>, args: cmd.processedArgs as Array<number | undefined>, json: !!raw.json, verbose };
}

/** Runs a CLI's main; errors become one line and an exit code. */
export function runCli(name: string, main: (argv: string[]) => Promise<number>): Promise<never> {
  return runMain(name, () => main(process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
}

/**
 * The clock of one batch: rows of a batch share one reading of the wall
 * clock (the -T column, JSON's time) instead of one per event.
 */
export class BatchClock {
  /** CLOCK_MONOTONIC ns at the start (the zero of "seconds since start" columns). */
  readonly startNs = process.hrtime.bigint();
  #date: Date | undefined;
  #iso: string | undefined;

  /** The wall clock for this batch. */
  now(): Date {
    return (this.#date ??= new Date());
  }

  /** ISO 8601 text of now(). */
  iso(): string {
    return (this.#iso ??= this.now().toISOString());
  }

  #hms: string | undefined;

  /** Local HH:MM:SS of now() (a -T column). */
  hms(): string {
    return (this.#hms ??= hhmmss(this.now()));
  }

  // Wall-clock ms minus CLOCK_MONOTONIC ms, read once at the start.
  #wallOffsetMs = Date.now() - Number(this.startNs / 1000n) / 1000;

  /** The wall-clock time of a CLOCK_MONOTONIC ns timestamp: an event's own time, not its batch's. (Bound: pass `clock.wall`.) */
  readonly wall = (ns: bigint): Date => new Date(this.#wallOffsetMs + Number(ns / 1000n) / 1000);

  #isoMs = NaN;
  #isoText = '';

  /** ISO 8601 text of wall(ns), to the millisecond: one Date per millisecond, not per event. */
  isoAt(ns: bigint): string {
    const ms = Math.floor(this.#wallOffsetMs + Number(ns / 1000n) / 1000);
    if (ms !== this.#isoMs) {
      this.#isoMs = ms;
      this.#isoText = new Date(ms).toISOString();
    }
    return this.#isoText;
  }

  /** Seconds from the start to a CLOCK_MONOTONIC ns timestamp. */
  since(ns: bigint): number {
    return Number(ns - this.startNs) / 1e9;
  }

  #firstNs: bigint | undefined;

  /** Seconds from the first timestamp given here to `ns` (BCC's columns that count from the first event). */
  sinceFirst(ns: bigint): number {
    this.#firstNs ??= ns;
    return Number(ns - this.#firstNs) / 1e9;
  }

  /** Seconds from the start to now (JSON's `elapsed` of a line that is not an event's). */
  elapsed(): number {
    return Number(process.hrtime.bigint() - this.startNs) / 1e9;
  }

  /** A new batch begins: the wall clock is read again when asked. */
  tick(): void {
    this.#date = undefined;
    this.#iso = undefined;
    this.#hms = undefined;
  }
}

/**
 * The two time fields every `--json` line starts with (core README, "JSON"):
 * `time`, the wall clock (ISO 8601, UTC) of the event, and `elapsed`,
 * seconds since tracing started (a number). `ns`: the event's CLOCK_MONOTONIC
 * timestamp; without one, now.
 */
export function jsonTime(clock: BatchClock, ns?: bigint): { time: string; elapsed: number } {
  return ns === undefined ? { time: clock.iso(), elapsed: clock.elapsed() } : { time: clock.isoAt(ns), elapsed: clock.since(ns) };
}

/**
 * An event's `--json` object: `time` and `elapsed` (from its `timestamp`),
 * then every field of the typed API's event under its own name (bigints as
 * decimal strings, see format/json.ts), then `extra` (fields only the CLI
 * has, such as a label).
 */
export function eventJson(ev: object, clock: BatchClock, extra?: Record<string, unknown>): Record<string, unknown> {
  const ts = (ev as { timestamp?: unknown }).timestamp;
  const o = jsonFields(ev, jsonTime(clock, typeof ts === 'bigint' ? ts : undefined));
  return extra ? jsonFields(extra, o) : o;
}

/**
 * A fast row writer for text output: formats one raw record straight into
 * the output bytes and returns true, or returns false to send that record
 * through decode → row (anything unusual: a byte that needs escaping); what
 * it wrote of that record before returning false is dropped.
 */
export type FastRow = (view: DataView, offset: number, length: number, out: RowBuffer) => boolean;

export interface EventCliDef<D extends OptionDefs, E> extends CommandDef<D> {
  tool: EventTool<any, E>;
  /** API options from the parsed flags (default: the declared options as parsed). */
  toOptions?: (flags: FlagsOf<D>, parsed: ParsedCommand<D>) => Record<string, unknown>;
  /** Checks across flags (one line, exit 2). */
  check?: (flags: FlagsOf<D>) => void;
  /** The header line(s), printed once tracing runs (text output only). */
  header?: (flags: FlagsOf<D>) => string | undefined;
  /** One text row with its "\n" ('' skips the event). */
  row: (flags: FlagsOf<D>, clock: BatchClock) => (ev: E) => string;
  /**
   * The JSON object for one event (undefined skips the event). Default:
   * eventJson(), the convention every tool follows: use eventJson() with
   * `extra` for fields only the CLI has.
   */
  json?: (flags: FlagsOf<D>, clock: BatchClock) => (ev: E) => unknown;
  /** A byte-level writer for the common rows (text output only, when no user-space filter runs). */
  fastRow?: (flags: FlagsOf<D>, clock: BatchClock) => FastRow | undefined;
  /** Stop after this many seconds: the flag key holding it (default 'duration' when declared). */
  lostMessage?: (n: number) => string;
  /** Which decoded events to print: the CLI's own filter, after `until` (the API's runs in decode). */
  filter?: (flags: FlagsOf<D>) => ((ev: E) => boolean) | undefined;
  /** The run ends after the batch holding an event for which this is true (exitsnoop -p: that process's exit); later events are dropped. */
  until?: (flags: FlagsOf<D>) => ((ev: E) => boolean) | undefined;
  /** Runs once tracing is attached and the header is out (e.g. to check that a watched process still exists). */
  started?: (flags: FlagsOf<D>, run: EventRun) => void;
  /** Events lost besides the ring's drops (a counter the BPF side keeps: a full table), added to the lost-events line. */
  lost?: (object: BpfObject) => number;
}

/** A running event CLI, as `started` sees it. */
export interface EventRun {
  /** Reads and prints what the rings hold now. */
  drain(): void;
  /** True once the run is ending (`until` matched, or stop() was called). */
  readonly ending: boolean;
  /** Ends the run with an exit code. */
  stop(code?: number): void;
  /** Ends the run with one line on stderr (`<tool>: message`) and an exit code (default 1). */
  fail(message: string, code?: number): void;
  /** Prints text (whole lines) after the rows so far: a periodic summary. */
  print(text: string): void;
  /** Runs at the end, once the rings are drained and detached (a last summary). */
  onStop(fn: () => void): void;
  /** The output is JSON lines (--json). */
  readonly json: boolean;
  /** One JSON line (with "\n") of a summary printed by the CLI: `time` and `elapsed` (now), then `obj`'s fields. */
  jsonLine(obj: object): string;
}

/**
 * The run loop of a streaming tool: records are read per batch, decoded,
 * filtered, formatted and written into one reused output buffer; one clock
 * read and at most one write per batch (immediate on a terminal); lost
 * events reported; every ending detaches and flushes.
 */
export async function runEventCli<D extends OptionDefs, E>(def: EventCliDef<D, E>, argv = process.argv): Promise<number> {
  const parsed = parseCommand(def, argv);
  const f = parsed.flags;
  def.check?.(f);
  const duration = (f as Record<string, unknown>).duration as number | undefined;
  const session = new Session({ tool: def.name, durationSeconds: duration, lostMessage: def.lostMessage });
  const opts = def.toOptions ? def.toOptions(f, parsed) : parsed.options;
  const clock = new BatchClock(); // before attaching: no event is older than the start
  const loaded = def.tool.load(opts as never);
  if (parsed.verbose && def.tool.def.ring) process.stderr.write(`${def.name}: ${describeRing(def.tool.def.ring, opts)}\n`);
  let lostMore = 0;
  session.onStop(() => {
    if (def.lost) lostMore = def.lost(loaded.object); // readable until close
    loaded.object.close(); // drains the ring into the output first
  });
  const out = session.out;
  const rows = out.rows;
  // JSON: the tool's object through jsonLine; by default the event's (eventJson
  // gives plain JSON values already: one pass, no replacer).
  const format = parsed.json
    ? def.json
      ? ((j) => (ev: E) => {
          const o = j(ev);
          return o === undefined ? '' : jsonLine(o);
        })(def.json(f, clock))
      : (ev: E) => JSON.stringify(eventJson(ev as object, clock)) + '\n'
    : def.row(f, clock);
  const show = def.filter?.(f);
  const until = def.until?.(f);
  const fast = parsed.json || show || until || def.tool.def.filter?.(opts as never) ? undefined : def.fastRow?.(f, clock);
  let ending = false;
  let emit = show ? (ev: E) => void (show(ev) && rows.text(format(ev))) : (ev: E) => rows.text(format(ev));
  if (until) {
    const print = emit;
    emit = (ev) => {
      if (ending) return;
      if (until(ev)) {
        ending = true;
        setImmediate(() => session.stop(0)); // after this batch is written
      }
      print(ev);
    };
  }
  const decode = loaded.decode;
  const reader = loaded.object.ringBuffer(
    loaded.rings,
    fast
      ? (view, offset, length) => {
          const at = rows.pos;
          if (!fast(view, offset, length, rows)) {
            rows.pos = at;
            const ev = decode(view, offset, length);
            if (ev !== undefined) emit(ev);
          } else rows.endRow();
        }
      : (view, offset, length) => {
          const ev = decode(view, offset, length);
          if (ev !== undefined) emit(ev);
        },
    {
      onBatchEnd: () => {
        clock.tick();
        out.endBatch();
      },
    },
  );
  out.throttle(reader);
  const more = def.lost;
  session.setLost(more ? () => reader.lost() + (session.stopping ? lostMore : more(loaded.object)) : () => reader.lost());
  const header = parsed.json ? undefined : def.header?.(f);
  if (header !== undefined) out.write(`${header}\n`);
  out.flush();
  def.started?.(f, {
    drain: () => void reader.flush(),
    get ending() {
      return ending || session.stopping;
    },
    stop: (code) => session.stop(code),
    fail: (message, code = 1) => {
      printError(def.name, message);
      session.stop(code);
    },
    print: (text) => {
      out.write(text);
      out.endBatch();
    },
    onStop: (fn) => session.onStop(fn),
    json: parsed.json,
    jsonLine: (obj) => JSON.stringify(jsonFields(obj, jsonTime(clock))) + '\n',
  });
  return session.done;
}

export interface PeriodicCliDef<D extends OptionDefs, S> extends CommandDef<D> {
  /** Checks across flags (one line, exit 2). */
  check?: (flags: FlagsOf<D>) => void;
  /**
   * Starts the tool; interval and count come from the positional arguments.
   * The session is there for what a tool prints while it starts, or streams
   * beside its snapshots (and may stop the run).
   */
  start: (parsed: ParsedCommand<D>, interval: number | undefined, count: number | undefined, session: Session) => Periodic<S, any> | Promise<Periodic<S, any>>;
  /** Printed once tracing runs (text output only): "Tracing... Hit Ctrl-C to end." */
  banner?: (flags: FlagsOf<D>) => string | undefined;
  /** One snapshot as text. */
  print: (s: S, flags: FlagsOf<D>) => string;
  /**
   * One snapshot as a JSON line's object. The kit puts `time` (the
   * snapshot's `time`, ISO 8601) and `elapsed` (seconds from the start of
   * tracing to the snapshot's `endNs`) first: leave them out here.
   */
  json?: (s: S, flags: FlagsOf<D>) => object;
  /** Instead of `json`: one JSON line per element (a line per histogram; none when empty), each with `time` and `elapsed` first. */
  jsonLines?: (s: S, flags: FlagsOf<D>) => object[];
  /** Runs once a snapshot is out (a warning on stderr after it); not when its write failed. */
  printed?: (s: S, flags: FlagsOf<D>) => void;
  /** A last snapshot at Ctrl-C (default true, as BCC's tools print one). */
  printLast?: boolean;
  /**
   * Whether this run prints snapshots (default true). False: the tool
   * streams something else instead (memleak -t) and runs until a signal,
   * --duration or session.stop().
   */
  snapshots?: (flags: FlagsOf<D>) => boolean;
  /** The lost-events line (handle.lost()); without one nothing is said (as BCC's histogram tools). */
  lostMessage?: (n: number) => string;
}

/**
 * The run loop of an interval tool: a snapshot every interval (`count`
 * times), and the partial period at any other ending (Ctrl-C, SIGTERM, a
 * closed pipe, --duration).
 */
export async function runPeriodicCli<D extends OptionDefs, S>(def: PeriodicCliDef<D, S>, argv = process.argv): Promise<number> {
  const parsed = parseCommand(def, argv);
  const f = parsed.flags;
  def.check?.(f);
  const [interval, count] = parsed.args;
  const duration = (f as Record<string, unknown>).duration as number | undefined;
  const session = new Session({ tool: def.name, durationSeconds: duration, lostMessage: def.lostMessage });
  const out = session.out;
  const handle = await def.start(parsed, interval, interval !== undefined ? count : undefined, session);
  if (def.lostMessage) session.setLost(() => handle.lost());
  // Every JSON line starts with the snapshot's time (core README, "JSON").
  const stamp = (s: S): { time: string; elapsed: number } => {
    const x = s as { time?: unknown; endNs?: unknown };
    const end = typeof x.endNs === 'bigint' ? x.endNs : process.hrtime.bigint();
    return { time: (x.time instanceof Date ? x.time : new Date()).toISOString(), elapsed: Number(end - handle.startNs) / 1e9 };
  };
  const line = (t: { time: string; elapsed: number }, o: object): string => JSON.stringify(jsonFields(o, { ...t })) + '\n';
  const text = parsed.json
    ? (s: S) => {
        const t = stamp(s);
        return def.jsonLines ? def.jsonLines(s, f).map((o) => line(t, o)).join('') : line(t, def.json!(s, f));
      }
    : (s: S) => def.print(s, f);
  const print = (s: S) => {
    out.write(text(s));
    out.flush();
    // After the write has settled: a failed one (a full disk, a closed pipe)
    // is reported on the next tick, and then the snapshot is not out, and
    // nothing is said about it (one error line; or a quiet end).
    if (def.printed) setImmediate(() => out.broken || def.printed!(s, f));
  };
  const snapshots = def.snapshots?.(f) ?? true;
  // Without an interval nothing else keeps Node running until the signal.
  const keepAlive = setInterval(() => {}, 1 << 30);
  session.onStop(() => {
    clearInterval(keepAlive);
    if (!snapshots || def.printLast === false || out.broken) return handle.stop();
    const last = handle.close();
    if (last !== undefined) print(last);
  });
  const banner = parsed.json ? undefined : def.banner?.(f);
  if (banner) out.write(banner);
  out.flush();
  if (!snapshots) return session.done;
  void (async () => {
    for await (const snap of handle) print(snap);
    if (handle.error === undefined) return session.stop(0);
    const d = describeError(handle.error);
    printError(def.name, d.message);
    session.stop(d.exitCode);
  })();
  return session.done;
}

export interface IntervalCliDef<D extends OptionDefs, S> extends Omit<PeriodicCliDef<D, S>, 'args' | 'start'> {
  /** Starts the tool (its typed API) with the options, and intervalMs and count from [interval] [count]. */
  start: (opts: OptionsOf<D> & IntervalOptions) => Periodic<S, any>;
}

const seconds = int(1, 99999999);

/** BCC's positional arguments of interval tools: `[interval] [count]`, in seconds. */
export const intervalArgs: ArgDef[] = [
  { name: 'interval', help: 'output interval, in seconds', type: seconds },
  { name: 'count', help: 'number of outputs', type: seconds },
];

/**
 * The CLI of an interval histogram tool (biolatency, runqlat, hardirqs,
 * softirqs): runPeriodicCli with BCC's `[interval] [count]`, which become
 * the API's intervalMs and count.
 */
export function runIntervalCli<D extends OptionDefs, S>(def: IntervalCliDef<D, S>, argv = process.argv): Promise<number> {
  return runPeriodicCli(
    {
      ...def,
      args: intervalArgs,
      start: ({ options }, interval, count) => def.start({ ...options, intervalMs: interval !== undefined ? interval * 1000 : undefined, count }),
    },
    argv,
  );
}

/** How each period's output begins, as BCC's interval tools print it: a blank line, then with -T the time (HH:MM:SS). */
export function periodHead(time: Date, timestamp: boolean | undefined): string {
  return timestamp ? `\n${pad(hhmmss(time), 8)}\n` : '\n';
}
