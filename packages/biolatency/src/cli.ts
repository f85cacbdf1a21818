#!/usr/bin/env node
// biolatency: summarize block device I/O latency as a histogram. Flags and
// output follow BCC's biolatency; -j/--json prints real JSON (one object per
// histogram) where BCC printed a Python dict.
import { UsageError } from '@ebpf/core';
import { runCli, runIntervalCli } from '@ebpf/core/kit';
import { biolatency, options } from './index.js';
import { BANNER, formatSnapshot, histogramsJson } from './output.js';

const examples = `examples:
    biolatency                    # summarize block I/O latency as a histogram
    biolatency 1 10               # print 1 second summaries, 10 times
    biolatency -mT 1              # 1s summaries, milliseconds, and timestamps
    biolatency -Q                 # include OS queued time in I/O time
    biolatency -D                 # show each disk device separately
    biolatency -F                 # show I/O flags separately
    biolatency -j                 # one JSON object per histogram
    biolatency -e                 # show extension summary(total, average)
    biolatency -d sdc             # Trace sdc only
    biolatency -c /sys/fs/cgroup/unified/mygroup   # only I/O submitted from this cgroup`;

await runCli('biolatency', (argv) =>
  runIntervalCli(
    {
      name: 'biolatency',
      description: 'Summarize block device I/O latency as a histogram',
      options,
      examples,
      check: (f) => {
        if (f.perDisk && f.perFlags) throw new UsageError('can only use -D or -F');
      },
      start: biolatency,
      banner: () => BANNER,
      print: formatSnapshot,
      jsonLines: histogramsJson,
    },
    argv,
  ),
);
