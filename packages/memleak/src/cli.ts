#!/usr/bin/env node
// memleak: outstanding allocations by stack. Flags and output follow BCC's
// memleak; --json prints one JSON object per report (or per -t event).
import { Command, Option } from 'commander';
import { Session, parseNonNegativeInt, parsePid, parsePositiveInt, runMain, commanderExit, commanderOutput } from '@ebpf/core/cli';
import { UsageError, setLibbpfVerbose } from '@ebpf/core';
import { jsonLine } from '@ebpf/core/format';
import { checkOptions, memleak, type Memleak, type MemleakOptions } from './index.js';
import { formatReport, formatReportJson, formatTrace, formatTraceJson } from './output.js';

const description = `Trace outstanding memory allocations that weren't freed.
Supports both user-mode allocations made with libc functions and kernel-mode
allocations made with kmalloc/kmem_cache_alloc/get_free_pages and corresponding
memory release functions.`;

const examples = `EXAMPLES:

./memleak -p $(pidof allocs)
        Trace allocations and display a summary of "leaked" (outstanding)
        allocations every 5 seconds
./memleak -p $(pidof allocs) -t
        Trace allocations and display each individual allocator function call
./memleak -ap $(pidof allocs) 10
        Trace allocations and display allocated addresses, sizes, and stacks
        every 10 seconds for outstanding allocations
./memleak -c "./allocs"
        Run the specified command and trace its allocations
./memleak
        Trace allocations in kernel mode and display a summary of outstanding
        allocations every 5 seconds
./memleak -o 60000
        Trace allocations in kernel mode and display a summary of outstanding
        allocations that are at least one minute (60 seconds) old
./memleak -s 5
        Trace roughly every 5th allocation, to reduce overhead
./memleak --json -p $(pidof allocs)
        One JSON object per report`;

interface Flags {
  pid?: number;
  trace?: boolean;
  showAllocs?: boolean;
  older: number;
  command?: string;
  combinedOnly?: boolean;
  waMissingFree?: boolean;
  sampleRate: number;
  top: number;
  minSize?: number;
  maxSize?: number;
  obj: string;
  percpu?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function program(): Command {
  return new Command('memleak')
    .description(description)
    .argument('[interval]', 'interval in seconds to print outstanding allocations', parsePositiveInt('interval', 86400 * 365), 5)
    .argument('[count]', 'number of times to print the report before exiting', parsePositiveInt('count'))
    .addOption(new Option('-p, --pid <PID>', 'the PID to trace; if not specified, trace kernel allocs').argParser(parsePid('-p')))
    .addOption(new Option('-t, --trace', 'print trace messages for each alloc/free call'))
    .addOption(new Option('-a, --show-allocs', 'show allocation addresses and sizes as well as call stacks'))
    .addOption(new Option('-o, --older <OLDER>', 'prune allocations younger than this age in milliseconds').default(500, '500').argParser(parseNonNegativeInt('-o', 2 ** 40)))
    .addOption(new Option('-c, --command <COMMAND>', 'execute and trace the specified command'))
    .addOption(new Option('--combined-only', 'show combined allocation statistics only'))
    .addOption(new Option('--wa-missing-free', 'Workaround to alleviate misjudgments when free is missing (always on here)'))
    .addOption(new Option('-s, --sample-rate <SAMPLE_RATE>', 'sample every N-th allocation to decrease the overhead').default(1, '1').argParser(parsePositiveInt('-s', 0xffffffff)))
    .addOption(new Option('-T, --top <TOP>', 'display only this many top allocating stacks (by size)').default(10, '10').argParser(parsePositiveInt('-T', 1 << 20)))
    .addOption(new Option('-z, --min-size <MIN_SIZE>', 'capture only allocations larger than this size').argParser(parseNonNegativeInt('-z', 2 ** 53)))
    .addOption(new Option('-Z, --max-size <MAX_SIZE>', 'capture only allocations smaller than this size').argParser(parseNonNegativeInt('-Z', 2 ** 53)))
    .addOption(new Option('-O, --obj <OBJ>', 'attach to allocator functions in the specified object').default('c'))
    .addOption(new Option('--percpu', 'trace percpu allocations'))
    .addOption(new Option('--json', 'print one JSON object per report (or per -t event)'))
    .addOption(new Option('-v, --verbose', "print where the probes went and libbpf's debug messages"))
    .addHelpText('after', `\n${examples}`)
    .configureOutput(commanderOutput('memleak'))
    .exitOverride(commanderExit);
}

async function main(argv: string[]): Promise<number> {
  const cmd = program();
  cmd.parse(argv);
  const f = cmd.opts<Flags>();
  const [interval, count] = cmd.processedArgs as [number, number | undefined];
  if (f.verbose) setLibbpfVerbose(true);
  if (f.pid !== undefined && f.command !== undefined) throw new UsageError('-p and -c cannot be used together');
  if (f.minSize !== undefined && f.maxSize !== undefined && f.minSize > f.maxSize) {
    throw new UsageError("min_size (-z) can't be greater than max_size (-Z)");
  }

  const opts: MemleakOptions = {
    pid: f.pid,
    command: f.command,
    obj: f.pid !== undefined || f.command !== undefined ? f.obj : undefined,
    interval,
    count,
    top: f.top,
    olderMs: f.older,
    sampleRate: f.sampleRate,
    minSize: f.minSize,
    maxSize: f.maxSize,
    combinedOnly: f.combinedOnly,
    showAllocs: f.showAllocs,
    percpu: f.percpu,
    trace: f.trace,
    waMissingFree: f.waMissingFree,
  };
  checkOptions(opts);

  const session = new Session({ tool: 'memleak', lostMessage: (n) => `Possibly lost ${n} trace events` });
  const out = session.out;
  if (f.command !== undefined && !f.json) {
    out.write(`Executing '${f.command}' and tracing the resulting process.\n`);
    out.flush();
  }
  const ml: Memleak = await memleak({
    ...opts,
    onAttached: (pid) => {
      // --json: the first object says tracing has started (and where).
      if (f.json) out.write(jsonLine({ type: 'attached', mode: pid === undefined ? 'kernel' : 'user', pid: pid ?? null }));
      else out.write(pid !== undefined ? `Attaching to pid ${pid}, Ctrl+C to quit.\n` : 'Attaching to kernel allocators, Ctrl+C to quit.\n');
      out.flush();
    },
  });
  if (f.verbose) {
    if (ml.library) process.stderr.write(`memleak: probing ${ml.library.path} (${ml.library.how})\n`);
    for (const p of ml.probes) process.stderr.write(`memleak:   ${p.function}+${p.delta}${p.retprobe ? ' (and its return)' : ''}: ${p.why}\n`);
  }

  let dropped = 0;
  const warnDropped = () => {
    const l = ml.lost();
    const n = l.allocs + l.stacks + l.combined;
    if (n > dropped) {
      out.flush();
      process.stderr.write(
        `memleak: ${l.allocs} allocations not tracked (allocation table full), ${l.stacks} stacks not stored, ${l.combined} allocations missing from the totals\n`,
      );
      dropped = n;
    }
  };
  const print = (): void => {
    // Once the process has exited nothing more will be freed: every block
    // still outstanding is a leak, however young (-o is for live processes).
    const r = ml.report(ml.targetGone ? { olderMs: 0 } : {});
    out.write(f.json ? formatReportJson(r) : formatReport(r));
    out.flush();
    warnDropped();
  };

  let finalDone = false;
  if (ml.trace) {
    session.setLost(() => ml.lost().events);
    const fmt = f.json ? formatTraceJson : formatTrace;
    ml.trace.subscribe((events) => {
      for (const e of events) out.write(fmt(e));
      out.endBatch();
    });
  } else {
    // A report every interval; after `count` of them, stop (that last one is the final report).
    void (async () => {
      for await (const r of ml) {
        if (session.stopping) return;
        out.write(f.json ? formatReportJson(r) : formatReport(r));
        out.flush();
        warnDropped();
      }
      if (count !== undefined && !session.stopping) {
        finalDone = true;
        session.stop(0);
      }
    })().catch((err: unknown) => {
      process.stderr.write(`memleak: ${(err as Error).message}\n`);
      session.stop(1);
    });
    // Ctrl-C, SIGTERM, SIGHUP, or the traced process ending: one last report.
    session.onStop(() => {
      if (!finalDone && !ml.closed && !out.broken) print();
    });
  }
  void ml.targetExited.then(() => session.stop(0));
  const code = await session.done;
  await ml.close();
  return code;
}

await runMain('memleak', () => main(process.argv), () => process.argv.includes('-v') || process.argv.includes('--verbose'));
