#!/usr/bin/env node
// javagc: Java garbage-collection pauses of one JVM. Flags and output follow
// libbpf-tools' javagc (BCC's is the generic ugc); --json, -H and --pools are
// ours.
import { Command, Option } from 'commander';
import { Session, parseNonNegativeInt, parsePid, parsePositiveInt, runEventTool, runMain, commanderExit, commanderOutput } from '@ebpf/core/cli';
import { UsageError, readProcStat, setLibbpfVerbose } from '@ebpf/core';
import { javagc } from './index.js';
import { BANNER, HEADER, PauseHistogram, formatJson, formatRow } from './output.js';

const examples = `examples:
    javagc -p 185               # trace the GC pauses of the JVM with PID 185
    javagc -p 185 -t 1000       # only pauses of at least 1000 us (1 ms)
    javagc -p 185 --pools       # also memory pool usage before -> after each GC
    javagc -p 185 -H 5          # a histogram of pause times every 5 seconds
    javagc -p 185 -H            # one histogram, at exit
    javagc -p 185 --json        # one JSON object per GC`;

interface Flags {
  pid?: number;
  time: number;
  verbose?: boolean;
  json?: boolean;
  histogram?: number | true;
  pools?: boolean;
}

export function program(): Command {
  return new Command('javagc')
    .description('Monitor javagc time cost: the pause of each Java garbage collection, from HotSpot USDT probes.')
    .addOption(new Option('-p, --pid <PID>', 'trace this Java process (required)').argParser(parsePid('-p')))
    .addOption(
      new Option('-t, --time <TIME>', 'show only GCs that took at least TIME microseconds')
        .default(0)
        .argParser(parseNonNegativeInt('-t')),
    )
    .addOption(new Option('-H, --histogram [SECONDS]', 'print a log2 histogram of pause times every SECONDS, or once at exit, instead of one line per GC').argParser(parsePositiveInt('-H', 86400)))
    .addOption(new Option('--pools', 'also show each memory pool: used and max bytes, before -> after'))
    .addOption(new Option('--json', 'print one JSON object per GC (or per histogram)'))
    .addOption(new Option('-v, --verbose', "print libbpf's debug messages"))
    .addHelpText('after', `\n${examples}`)
    .configureOutput(commanderOutput('javagc'))
    .exitOverride(commanderExit);
}

/** The process's start time (field 22 of /proc/PID/stat): tells a PID's reuse from its process. */
function startTime(pid: number): number | undefined {
  return readProcStat(pid)?.starttime;
}

async function main(argv: string[]): Promise<number> {
  const cmd = program();
  cmd.parse(argv);
  const f = cmd.opts<Flags>();
  if (f.pid === undefined) throw new UsageError('-p PID is required: the Java process to trace');
  if (f.verbose) setLibbpfVerbose(true);
  const pid = f.pid;
  const pools = !!f.pools;
  const born = startTime(pid);

  const session = new Session({ tool: 'javagc', lostMessage: (n) => `lost ${n} GC records (ring buffer full)` });
  const hist = f.histogram !== undefined ? new PauseHistogram() : undefined;
  const printHist = () => {
    if (!hist) return;
    session.out.write(f.json ? hist.json() : hist.text());
    hist.clear();
  };

  const done = runEventTool({
    session,
    start: () => javagc({ pid, thresholdUs: f.time, pools }),
    header: f.json ? undefined : hist ? BANNER : `${BANNER}\n${HEADER}`,
    format: hist
      ? (ev) => {
          hist.add(ev);
          return '';
        }
      : f.json
        ? (ev) => formatJson(ev, pools)
        : (ev) => formatRow(ev, pools),
  });

  if (hist) {
    if (typeof f.histogram === 'number') {
      const timer = setInterval(() => {
        printHist();
        session.out.endBatch();
      }, f.histogram * 1000);
      session.onStop(() => clearInterval(timer));
    }
    // At exit: what the last interval gathered (all of it without SECONDS).
    session.onStop(() => {
      if (typeof f.histogram !== 'number' || hist.count > 0) printHist();
    });
  }

  // Nothing more can come once the JVM is gone: stop then, as after Ctrl-C.
  const watch = setInterval(() => {
    if (startTime(pid) !== born) session.stop(0);
  }, 500);
  session.onStop(() => clearInterval(watch));

  return done;
}

await runMain('javagc', () => main(process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
