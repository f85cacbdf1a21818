// The command line of a report tool that aggregates stacks (offcputime,
// profile): BCC's optional duration in seconds, one report at the end (or at
// Ctrl-C), --json, and --flamegraph from the same folded lines -f prints,
// with the report's warnings on stderr after it.
import { longTimeout } from '../cli/index.js';
import { runPeriodicCli } from './cli.js';
import { prepareFlameGraph, writeFlameGraph } from './flamegraph.js';
import { UsageError } from '../errors.js';
import { escapeControl, pad } from '../format/index.js';
import { int, option, type FlagsOf, type OptionDefs, type OptionsOf } from './options.js';
import type { IntervalOptions, Periodic } from './periodic.js';
import type { ContainerOptions } from './container.js';
import type { FlameGraphOptions } from '../format/flamegraph.js';
import type { Frame, StackFrames } from '../symbolize/index.js';

/** The options every stack report tool (profile, offcputime) has, besides its own. */
export interface StackToolOptions extends IntervalOptions, ContainerOptions {
  /** -p: this process only (in the kernel). */
  pid?: number;
  /** This thread only (offcputime -t, profile -L). */
  tid?: number;
  /** -U: user stacks only (no kernel stacks walked). */
  userStacksOnly?: boolean;
  /** -K: kernel stacks only (no user stacks walked). */
  kernelStacksOnly?: boolean;
  /** --stack-storage-size: distinct stacks stored. */
  stackStorageSize?: number;
  /** Distinct keys (process or thread, stacks, comm) counted at most (default 10240). */
  maxKeys?: number;
}

/** A report of a stack tool: its period, its stacks (S), and what it could not show. */
export interface StackReport<S> {
  time: Date;
  /** CLOCK_MONOTONIC ns of the period (process.hrtime.bigint()). */
  startNs: bigint;
  endNs: bigint;
  /** Smallest value first, as BCC prints them (the largest nearest the prompt). */
  stacks: S[];
  /** Stacks that could not be stored (BCC's "stack traces lost"): a larger stackStorageSize helps. */
  missedStacks: number;
  /** Events not counted in this period: the counts map was full (maxKeys). */
  dropped: number;
}

/** Which stacks are walked: -U and -K, as BCC's stack tools spell them. */
export const stackSideOptions = {
  userStacksOnly: option('-U, --user-stacks-only', 'show stacks from user space only (no kernel space stacks)', undefined, { conflicts: ['kernelStacksOnly'] }),
  kernelStacksOnly: option('-K, --kernel-stacks-only', 'show stacks from kernel space only (no user space stacks)'),
};

/** -U and -K exclude each other (the API's check; the CLI's is commander's conflict). */
export function checkStackSides(o: { userStacksOnly?: boolean; kernelStacksOnly?: boolean }): void {
  if (o.userStacksOnly && o.kernelStacksOnly) throw new UsageError('userStacksOnly and kernelStacksOnly exclude each other');
}

/** --stack-storage-size: the distinct stacks the stack map holds (BCC's default differs by tool). */
export function stackStorageOption(defaultSize: number, max: number) {
  return option('--stack-storage-size <STACK_STORAGE_SIZE>', 'the number of unique stack traces that can be stored and displayed', int(1, max), { default: defaultSize });
}

/** -d: a delimiter between the kernel and the user stack (display only). */
export const delimitedFlag = option('-d, --delimited', 'insert delimiter between kernel/user stacks', undefined, { cliOnly: true });

/** How a stack prints: -d's delimiter, and a suffix of kernel frames (profile -a: `_[k]`). */
export interface StackTextFlags {
  delimited?: boolean;
  kernelSuffix?: string;
}

/** A reported stack: its frames, and whose they are. */
type ShownStack = StackFrames & { comm: string; pid: number };

/** As BCC's sym()/ksym() without offset or module: the name, or [unknown]. */
const frameName = (f: Frame): string => escapeControl(f.name ?? '[unknown]');
/** -d's delimiter goes between two stacks that were both recorded. */
const both = (s: ShownStack): boolean => !!s.kernelFrames?.length && !!s.userFrames?.length;

/**
 * One stack as BCC's profile and offcputime print it: kernel frames
 * (innermost first), `--` with -d, user frames, the process (or thread),
 * and its value (samples, microseconds), then a blank line.
 *
 *       __schedule
 *       ...
 *       main
 *       -                sleeper (4242)
 *           500123
 */
export function stackText(s: ShownStack, value: number, f: StackTextFlags): string {
  let out = '';
  if (s.kernelFrames) {
    if (s.kernelMissed) out += '    [Missed Kernel Stack]\n';
    else for (const fr of s.kernelFrames) out += `    ${frameName(fr)}${f.kernelSuffix ?? ''}\n`;
  }
  if (s.userFrames) {
    if (f.delimited && both(s)) out += '    --\n';
    if (s.userMissed) out += '    [Missed User Stack]\n';
    else for (const fr of s.userFrames) out += `    ${frameName(fr)}\n`;
  }
  return `${out}    ${pad('-', 16)} ${escapeControl(s.comm)} (${s.pid})\n        ${value}\n\n`;
}

/** -f: `comm;outermost;...;innermost value`, user frames before kernel ones (a flame graph's input). */
export function foldedStack(s: ShownStack, value: number, f: StackTextFlags): string {
  const parts = [escapeControl(s.comm)];
  if (s.userFrames) {
    if (s.userMissed) parts.push('[Missed User Stack]');
    else for (let i = s.userFrames.length - 1; i >= 0; i--) parts.push(frameName(s.userFrames[i]!));
  }
  if (s.kernelFrames) {
    if (f.delimited && both(s)) parts.push('-');
    if (s.kernelMissed) parts.push('[Missed Kernel Stack]');
    else for (let i = s.kernelFrames.length - 1; i >= 0; i--) parts.push(frameName(s.kernelFrames[i]!) + (f.kernelSuffix ?? ''));
  }
  return `${parts.join(';')} ${value}\n`;
}

export interface StackReportCliDef<D extends OptionDefs, R> {
  name: string;
  description: string;
  /** Every flag, the tool's options and its command-line-only ones (-d, -f, --flamegraph...). */
  options: D;
  examples: string;
  /** The tool's own checks, on its options (the command-line-only flags left out). */
  check: (o: OptionsOf<D>) => void;
  /** Starts tracing. */
  start: (o: OptionsOf<D>) => Periodic<R, any>;
  /** BCC's first line, with the duration when one was given (not printed with -f). */
  banner: (f: FlagsOf<D>, duration: number | undefined) => string;
  print: (r: R, f: FlagsOf<D>) => string;
  json: (r: R, f: FlagsOf<D>) => object;
  /** Lines for stderr after a report ('' for none). */
  warnings: (r: R) => string;
  /** The report's folded lines for the flame graph, and its title and unit. */
  flameGraph: { folded: (r: R, f: FlagsOf<D>) => string } & FlameGraphOptions;
}

/** The flags every stack report tool has: -f and --flamegraph. */
const shown = (f: object) => f as { folded?: boolean; flamegraph?: string };

export function runStackReportCli<D extends OptionDefs, R>(def: StackReportCliDef<D, R>, argv = process.argv): Promise<number> {
  let duration: number | undefined;
  const { folded, ...graph } = def.flameGraph;
  return runPeriodicCli(
    {
      name: def.name,
      description: def.description,
      options: def.options,
      args: [{ name: 'duration', help: 'duration of trace, in seconds', type: int(1, 99999999) }],
      examples: def.examples,
      jsonFlag: { flags: '--json', help: 'print the report as one JSON object' },
      check: (f) => {
        const o = Object.fromEntries(Object.entries(f).filter(([k]) => !def.options[k]?.cliOnly)) as OptionsOf<D>;
        def.check(o);
        prepareFlameGraph(shown(f).flamegraph);
      },
      start: ({ options: o }, seconds, _count, session) => {
        duration = seconds;
        const handle = def.start(o as OptionsOf<D>);
        if (seconds !== undefined) longTimeout(() => session.stop(0), seconds * 1000);
        return handle;
      },
      banner: (f) => (shown(f).folded ? undefined : def.banner(f, duration)),
      print: def.print,
      json: def.json,
      printed: (r, f) => {
        process.stderr.write(def.warnings(r));
        writeFlameGraph(shown(f).flamegraph, folded(r, f), graph);
      },
    },
    argv,
  );
}
