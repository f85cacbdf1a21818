#!/usr/bin/env node
// biosnoop: trace block I/O, one line per I/O with the issuing process and
// its latency. Flags and columns follow BCC's biosnoop (-Q, -d, -P); -t, -m
// and --duration are additions; --json prints one JSON object per I/O.
import { int, option, runCli, runEventCli, type BatchClock } from '@ebpf/core/kit';
import { options, tool, untracked } from './index.js';
import { Rows, header, type Flags } from './output.js';

const examples = `examples:
    biosnoop               # trace all block I/O
    biosnoop -Q            # include OS queued time
    biosnoop -d sdc        # trace sdc only
    biosnoop -P            # display block I/O pattern
    biosnoop -t            # wall-clock timestamps instead of seconds since the first I/O
    biosnoop -m 10         # only I/O of 10 ms or more
    biosnoop --duration 10 # trace for 10 seconds only
    biosnoop --json        # one JSON object per I/O`;

/** Every flag: BCC's in its order, then our -t, -m and --duration (BCC has none of them). */
export const flags = {
  queued: options.queued,
  disk: options.disk,
  pattern: options.pattern,
  timestamp: option('-t, --timestamp', 'include timestamp on output', undefined, { cliOnly: true }),
  minLatencyMs: options.minLatencyMs,
  duration: option('--duration <SECONDS>', 'total duration of trace in seconds', int(1, Number.MAX_SAFE_INTEGER), { cliOnly: true }),
  cgroup: options.cgroup,
  cgroupmap: options.cgroupmap,
  mntnsmap: options.mntnsmap,
};

// One Rows for the run: the decoded and the byte-level rows count TIME(s) from the same first I/O.
let shared: Rows | undefined;
const rows = (f: Flags, clock: BatchClock): Rows => (shared ??= new Rows(f, clock));

await runCli('biosnoop', (argv) =>
  runEventCli(
    {
      name: 'biosnoop',
      description: 'Trace block I/O',
      options: flags,
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per I/O' },
      tool,
      header,
      row: (f, clock) => ((r) => r.row.bind(r))(rows(f, clock)),
      fastRow: (f, clock) => ((r) => r.fast.bind(r))(rows(f, clock)),
      // I/Os the in-kernel request table could not follow count as lost too.
      lost: untracked,
    },
    argv,
  ),
);
