#!/usr/bin/env node
// profile: CPU profiler. Flags and output follow BCC's profile (-f: folded
// lines); --json prints one JSON object per report; --flamegraph writes an
// SVG or HTML flame graph of the same stacks.
import { runCli, runStackReportCli, type FlagsOf } from '@ebpf/core/kit';
import { check, options, profile } from './index.js';
import { folded, formatReport, reportJson, warnings } from './output.js';

const examples = `examples:
    profile             # profile stack traces at 49 Hertz until Ctrl-C
    profile -F 99       # profile stack traces at 99 Hertz
    profile -c 1000000  # profile stack traces every 1 in a million events
    profile 5           # profile at 49 Hertz for 5 seconds only
    profile -f 5        # output in folded format for flame graphs
    profile -p 185      # only profile process with PID 185
    profile -L 185      # only profile thread with TID 185
    profile -U          # only show user space stacks (no kernel)
    profile -K          # only show kernel space stacks (no user)
    profile -C 0        # only profile CPU 0
    profile --flamegraph out.html 10   # a flame graph page (search, zoom)`;

type Flags = FlagsOf<typeof options>;

function banner(f: Flags, duration: number | undefined): string {
  const rate = f.sampleCount !== undefined ? `every ${f.sampleCount} events` : `${f.frequency ?? 49} Hertz`;
  const who = f.pid !== undefined ? `PID ${f.pid}` : f.tid !== undefined ? `TID ${f.tid}` : 'all threads';
  const stacks = f.userStacksOnly ? 'user' : f.kernelStacksOnly ? 'kernel' : 'user + kernel';
  const cpu = f.cpu !== undefined ? ` on CPU#${f.cpu}` : '';
  return `Sampling at ${rate} of ${who} by ${stacks} stack${cpu}${duration !== undefined ? ` for ${duration} secs.` : '... Hit Ctrl-C to end.'}\n`;
}

await runCli('profile', (argv) =>
  runStackReportCli(
    {
      name: 'profile',
      description: 'Profile CPU stack traces at a timed interval',
      options,
      examples,
      check,
      start: profile,
      banner,
      print: formatReport,
      json: reportJson,
      warnings,
      flameGraph: { folded, title: 'profile: CPU samples', unit: 'samples' },
    },
    argv,
  ),
);
