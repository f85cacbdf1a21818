// --flamegraph FILE.svg|.html for the stack tools (profile, offcputime):
// the flag, a check that the file can be written (before tracing starts),
// and the write, from the same folded lines -f prints.
import { writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { flameGraph, parseFolded, type FlameGraphOptions } from '../format/flamegraph.js';
import { custom, option } from './options.js';

const file = custom<string>(
  (t, flag) => {
    if (!/\.(svg|html?)$/i.test(t)) throw new UsageError(`invalid ${flag} value '${t}': the file must end in .svg or .html`);
    return t;
  },
  (v, key) => {
    if (typeof v !== 'string') throw new UsageError(`${key} must be a file name`);
    return v;
  },
);

/** The --flamegraph option (command line only). */
export const flameGraphOption = option('--flamegraph <FILE>', 'also write the report as a flame graph (FILE.svg, or FILE.html with search and zoom)', file, { cliOnly: true as const });

/** Creates (empties) the file now, so a path that cannot be written is one line before tracing. */
export function prepareFlameGraph(path: string | undefined): void {
  if (path === undefined) return;
  try {
    writeFileSync(path, '');
  } catch (err) {
    throw new UsageError(`cannot write the flame graph ${path}: ${(err as Error).message}`);
  }
}

/** Writes the graph of `folded` (profile's/offcputime's -f text); a failed write (full disk) is one line on stderr and exit status 1. */
export function writeFlameGraph(path: string | undefined, folded: string, opts: FlameGraphOptions = {}): void {
  if (path === undefined) return;
  try {
    writeFileSync(path, flameGraph(path, parseFolded(folded), opts));
  } catch (err) {
    process.stderr.write(`cannot write the flame graph ${path}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
