#!/usr/bin/env node
// tcplife: trace the lifespan of TCP sessions. Flags and output follow BCC's
// tcplife; --json prints one JSON object per session instead.
import { tcpSocketFlags, familyOf, portExamples, portOptions, runCli, runEventCli, tcpDisplayFlags, type BatchClock } from '@ebpf/core/kit';
import { options, tool, untracked } from './index.js';
import { Formatter, header, type Flags } from './output.js';

const examples = `examples:
    tcplife           # trace all TCP connect()s
    tcplife -T        # include time column (HH:MM:SS)
    tcplife -w        # wider columns (fit IPv6)
    tcplife -stT      # csv output, with times & timestamps
    tcplife -p 181    # only trace PID 181
${portExamples('tcplife')}
    tcplife -4        # only trace IPv4 family
    tcplife -6        # only trace IPv6 family
    tcplife --json    # one JSON object per session`;

/** Every flag, in BCC's order: tcplife's options (-4 and -6 set `family`) and the display flags. */
export const flags = {
  ...tcpDisplayFlags,
  pid: options.pid,
  ...portOptions, // -L -D
  ...tcpSocketFlags, // -4 -6 --cgroup --cgroupmap
};

// The rows of one run, text or byte-level, count -t from the same first session.
let formatter: Formatter | undefined;
const rows = (f: Flags, clock: BatchClock) => (formatter ??= new Formatter(f, clock));

await runCli('tcplife', (argv) =>
  runEventCli(
    {
      name: 'tcplife',
      description: 'Trace the lifespan of TCP sessions and summarize',
      options: flags,
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per session' },
      tool,
      toOptions: (f, parsed) => ({ ...parsed.options, family: familyOf(f) }),
      header,
      row: (f, clock) => ((r) => (s) => r.row(s))(rows(f, clock)),
      fastRow: (f, clock) => ((r) => r.fast.bind(r))(rows(f, clock)),
      // Sessions the kernel side could not follow (its table was full) are lost too.
      lost: untracked,
    },
    argv,
  ),
);
