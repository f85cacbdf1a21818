#!/usr/bin/env node
// exitsnoop: trace process termination. Flags and output follow BCC's
// exitsnoop; --json prints one JSON object per event instead.
import { processAlive } from '@ebpf/core';
import { option, runCli, runEventCli, text } from '@ebpf/core/kit';
import { options, tool } from './index.js';
import { formatRow, header, jsonObject } from './output.js';

const examples = `examples:
    exitsnoop                # trace all process termination
    exitsnoop -x             # trace only fails, exclude exit(0)
    exitsnoop -t             # include timestamps (local time)
    exitsnoop --utc          # include timestamps (UTC)
    exitsnoop -p 181         # only trace PID 181 (ends once it has exited)
    exitsnoop --label=exit   # label each output line with 'exit'
    exitsnoop --per-thread   # trace per thread termination
    exitsnoop --json         # one JSON object per event`;

/** Every flag, in BCC's order: exitsnoop's options and the display flags. */
export const flags = {
  timestamp: option('-t, --timestamp', 'include timestamp (local time default)', undefined, { cliOnly: true }),
  utc: option('--utc', 'include timestamp in UTC (-t implied)', undefined, { cliOnly: true }),
  pid: options.pid,
  label: option('--label <LABEL>', "label each line (an empty LABEL prints 'exit')", text(), { cliOnly: true }),
  failed: options.failed,
  perThread: options.perThread,
  cgroup: options.cgroup,
  cgroupmap: options.cgroupmap,
  mntnsmap: options.mntnsmap,
};

await runCli('exitsnoop', (argv) =>
  runEventCli(
    {
      name: 'exitsnoop',
      description: 'Trace all process termination (exit, fatal signal)',
      options: flags,
      examples,
      tool,
      // With -p the run ends once the process has exited, so its exit must
      // reach us even when -x would hide it: -x is then applied here.
      toOptions: ({ pid, failed, perThread }) => ({ pid, failed: failed && pid === undefined, perThread }),
      filter: (f) => (f.failed && f.pid !== undefined ? (ev) => ev.status !== 0 : undefined),
      until: ({ pid }) => (pid !== undefined ? (ev) => ev.pid === pid && ev.groupDead : undefined),
      // The process may have exited between parsing -p and attaching: then
      // its exit was never seen and never will be.
      started: ({ pid }, run) => {
        if (pid === undefined || processAlive(pid)) return;
        run.drain();
        if (!run.ending) run.fail(`process ${pid} exited before tracing started`);
      },
      header,
      row: (f, clock) => (ev) => formatRow(ev, f, clock.wall),
      json: (f, clock) => (ev) => jsonObject(ev, f, clock),
    },
    argv,
  ),
);
