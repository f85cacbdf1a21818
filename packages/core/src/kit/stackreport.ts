// The command line of a report tool that aggregates stacks (offcputime,
// profile): BCC's optional duration in seconds, one report at the end (or at
// Ctrl-C), --json, and --flamegraph from the same folded lines -f prints,
// with the report's warnings on stderr after it.
import { longTimeout } from '../cli/index.js';
import { runPeriodicCli } from './cli.js';
import { prepareFlameGraph, writeFlameGraph } from './flamegraph.js';
import { int, type FlagsOf, type OptionDefs, type OptionsOf } from './options.js';
import type { Periodic } from './periodic.js';
import type { FlameGraphOptions } from '../format/flamegraph.js';

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
