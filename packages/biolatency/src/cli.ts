#!/usr/bin/env node
// biolatency: summarize block device I/O latency as a histogram. Flags and
// output follow BCC's biolatency; -j/--json prints real JSON (one object per
// histogram) where BCC printed a Python dict.
import { UsageError } from '@ebpf/core';
import { int, option, runCli, runPeriodicCli } from '@ebpf/core/kit';
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

/** Every flag, in BCC's order: biolatency's options and the display flags. */
export const flags = {
  timestamp: option('-T, --timestamp', 'include timestamp on output', undefined, { cliOnly: true }),
  queued: options.queued,
  milliseconds: options.milliseconds,
  perDisk: options.perDisk,
  perFlags: options.perFlags,
  extension: option('-e, --extension', 'summarize average/total value', undefined, { cliOnly: true }),
  json: option('-j, --json', 'print one JSON object per histogram', undefined, { cliOnly: true }),
  disk: options.disk,
  cgroup: options.cgroup,
  cgroupmap: options.cgroupmap,
  mntnsmap: options.mntnsmap,
};

const seconds = int(1, 99999999);

await runCli('biolatency', (argv) =>
  runPeriodicCli(
    {
      name: 'biolatency',
      description: 'Summarize block device I/O latency as a histogram',
      options: flags,
      args: [
        { name: 'interval', help: 'output interval, in seconds', type: seconds },
        { name: 'count', help: 'number of outputs', type: seconds },
      ],
      examples,
      check: (f) => {
        if (f.perDisk && f.perFlags) throw new UsageError('can only use -D or -F');
      },
      start: ({ options: o }, interval, count) => biolatency({ ...o, intervalMs: interval !== undefined ? interval * 1000 : undefined, count }),
      banner: () => BANNER,
      print: formatSnapshot,
      jsonLines: histogramsJson,
    },
    argv,
  ),
);
