#!/usr/bin/env node
// offcputime: off-CPU time by stack. Flags and output follow BCC's
// offcputime (-f: folded lines); --json prints one JSON object per report.
import { runCli, runStackReportCli, type FlagsOf } from '@ebpf/core/kit';
import { check, offcputime, options } from './index.js';
import { formatReport, reportJson, warnings } from './output.js';

const examples = `examples:
    offcputime             # trace off-CPU stack time until Ctrl-C
    offcputime 5           # trace for 5 seconds only
    offcputime -f 5        # 5 seconds, and output in folded format
    offcputime -m 1000     # trace only events that last more than 1000 usec
    offcputime -M 10000    # trace only events that last less than 10000 usec
    offcputime -p 185      # only trace threads for PID 185
    offcputime -t 188      # only trace thread 188
    offcputime -u          # only trace user threads (no kernel)
    offcputime -k          # only trace kernel threads (no user)
    offcputime -U          # only show user space stacks (no kernel)
    offcputime -K          # only show kernel space stacks (no user)
    offcputime --json 5    # one JSON object for the report
    offcputime --flamegraph off.html 5   # a flame graph page (search, zoom)`;

type Flags = FlagsOf<typeof options>;

/** BCC's first line: what is traced, by which stacks, for how long. */
function banner(f: Flags, duration: number | undefined): string {
  const who =
    f.pid !== undefined ? `PID ${f.pid}` : f.tid !== undefined ? `TID ${f.tid}` : f.userThreadsOnly ? 'user threads' : f.kernelThreadsOnly ? 'kernel threads' : 'all threads';
  const stacks = f.userStacksOnly ? 'user' : f.kernelStacksOnly ? 'kernel' : 'user + kernel';
  return `Tracing off-CPU time (us) of ${who} by ${stacks} stack${duration !== undefined ? ` for ${duration} secs.` : '... Hit Ctrl-C to end.'}\n`;
}

await runCli('offcputime', (argv) =>
  runStackReportCli(
    {
      name: 'offcputime',
      description: 'Summarize off-CPU time by stack trace',
      options,
      examples,
      check,
      start: offcputime,
      banner,
      print: formatReport,
      json: reportJson,
      warnings,
      flameGraph: { folded: (r, f) => formatReport(r, { ...f, folded: true }), title: 'offcputime: off-CPU time', unit: 'us' },
    },
    argv,
  ),
);
