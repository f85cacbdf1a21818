#!/usr/bin/env node
// execsnoop: trace exec() syscalls. Flags and output follow BCC's execsnoop;
// --json prints one JSON object per event instead.
import { int, option, runCli, runEventCli } from '@ebpf/core/kit';
import { options, tool } from './index.js';
import { formatRow, header } from './output.js';

const examples = `examples:
    execsnoop                      # trace all exec() syscalls
    execsnoop -x                   # include failed exec()s
    execsnoop -T                   # include time (HH:MM:SS)
    execsnoop -P 181               # only trace new processes whose parent PID is 181
    execsnoop -U                   # include UID
    execsnoop -u 1000              # only trace UID 1000
    execsnoop -u user              # get user UID and trace only them
    execsnoop -t                   # include timestamps
    execsnoop -q                   # add "quotemarks" around arguments
    execsnoop -n main              # only print command lines containing "main"
    execsnoop -l tpkg              # only print command where arguments contains "tpkg"
    execsnoop --json               # one JSON object per event`;

/** Every flag, in BCC's order: execsnoop's options and the display flags. */
export const flags = {
  time: option('-T, --time', 'include time column on output (HH:MM:SS)', undefined, { cliOnly: true }),
  timestamp: option('-t, --timestamp', 'include timestamp on output', undefined, { cliOnly: true }),
  failed: options.failed,
  uid: options.uid,
  quote: option('-q, --quote', 'Add quotemarks (") around arguments.', undefined, { cliOnly: true }),
  name: options.name,
  line: options.line,
  printUid: option('-U, --print-uid', 'print UID column', undefined, { cliOnly: true }),
  maxArgs: option('--max-args <MAX_ARGS>', 'maximum number of arguments parsed and displayed', int(1, 100000), { cliOnly: true, default: 20 }),
  ppid: options.ppid,
  cgroup: options.cgroup,
  cgroupmap: options.cgroupmap,
  mntnsmap: options.mntnsmap,
};

export const command = {
  name: 'execsnoop',
  description: 'Trace exec() syscalls',
  options: flags,
  examples,
};

await runCli('execsnoop', (argv) =>
  runEventCli(
    {
      ...command,
      tool,
      header,
      row: (f, clock) => (ev) => formatRow(ev, f, clock),
    },
    argv,
  ),
);
