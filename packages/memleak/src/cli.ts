#!/usr/bin/env node
// memleak: outstanding allocations by stack. Flags and output follow BCC's
// memleak; --json prints one JSON object per report (or per -t event).
import { jsonLine } from '@ebpf/core/format';
import { BatchClock, int, runCli, runPeriodicCli, type FlagsOf } from '@ebpf/core/kit';
import { check, memleak, options, type Memleak, type MemleakOptions, type TraceEvent } from './index.js';
import { formatReport, formatTrace, formatTraceJson, reportJson } from './output.js';

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

/** The API options of a command line: -O only in user mode (its default, "c", would refuse kernel mode). */
function toOptions(f: FlagsOf<typeof options>): MemleakOptions {
  return { ...f, obj: f.pid !== undefined || f.command !== undefined ? f.obj : undefined };
}

let ml: Memleak;
let dropped = 0;

/** After each report: what did not fit the maps, when more did not. */
function warnDropped(): void {
  const l = ml.lost();
  const n = l.allocs + l.stacks + l.combined;
  if (n <= dropped) return;
  process.stderr.write(`memleak: ${l.allocs} allocations not tracked (allocation table full), ${l.stacks} stacks not stored, ${l.combined} allocations missing from the totals\n`);
  dropped = n;
}

await runCli('memleak', (argv) =>
  runPeriodicCli(
    {
      name: 'memleak',
      description,
      options,
      args: [
        { name: 'interval', help: 'interval in seconds to print outstanding allocations', type: int(1, 86400 * 365), default: 5 },
        { name: 'count', help: 'number of times to print the report before exiting', type: int(1, Number.MAX_SAFE_INTEGER) },
      ],
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per report (or per -t event)' },
      verboseHelp: "print where the probes went and libbpf's debug messages",
      check: (f) => check(toOptions(f)),
      start: async ({ flags: f, json, verbose }, interval, count, session) => {
        const out = session.out;
        if (f.command !== undefined && !json) {
          out.write(`Executing '${f.command}' and tracing the resulting process.\n`);
          out.flush();
        }
        ml = await memleak({
          ...toOptions(f),
          interval,
          count,
          onAttached: (pid) => {
            // --json: the first object says tracing has started (and where).
            if (json) out.write(jsonLine({ time: new Date().toISOString(), elapsed: 0, type: 'attached', mode: pid === undefined ? 'kernel' : 'user', pid: pid ?? null }));
            else out.write(pid !== undefined ? `Attaching to pid ${pid}, Ctrl+C to quit.\n` : 'Attaching to kernel allocators, Ctrl+C to quit.\n');
            out.flush();
          },
        });
        if (verbose) {
          if (ml.library) process.stderr.write(`memleak: probing ${ml.library.path} (${ml.library.how})\n`);
          for (const p of ml.probes) process.stderr.write(`memleak:   ${p.function}+${p.delta}${p.retprobe ? ' (and its return)' : ''}: ${p.why}\n`);
        }
        if (ml.trace) {
          const clock = new BatchClock();
          const fmt = json ? (e: TraceEvent) => formatTraceJson(e, clock) : formatTrace;
          ml.trace.subscribe((events) => {
            for (const e of events) out.write(fmt(e));
            out.endBatch();
          });
        }
        // The traced process ended: one last report, which counts every block left.
        void ml.targetExited.then(() => session.stop(0));
        return ml.reports;
      },
      // -t prints each call instead of reports.
      snapshots: (f) => !f.trace,
      print: formatReport,
      json: reportJson,
      printed: warnDropped,
      lostMessage: (n) => `Possibly lost ${n} trace events`,
    },
    argv,
  ),
);
