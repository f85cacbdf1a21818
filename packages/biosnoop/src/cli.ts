#!/usr/bin/env node
// biosnoop: trace block I/O, one line per I/O with the issuing process and
// its latency. Flags and columns follow BCC's biosnoop (-Q, -d, -P), with
// libbpf-tools' -t and -m; --json prints one JSON object per I/O.
import { option, runCli, runEventCli } from '@ebpf/core/kit';
import { options, tool, untracked } from './index.js';
import { header, jsonFormatter, rowFormatter } from './output.js';

const examples = `examples:
    biosnoop           # trace all block I/O
    biosnoop -Q        # include OS queued time
    biosnoop -d sdc    # trace sdc only
    biosnoop -P        # display block I/O pattern
    biosnoop -t        # wall-clock timestamps instead of seconds since the first I/O
    biosnoop -m 10     # only I/O of 10 ms or more
    biosnoop --json    # one JSON object per I/O`;

/** Every flag: BCC's in its order, then libbpf-tools' -t and -m. */
export const flags = {
  queued: options.queued,
  disk: options.disk,
  pattern: options.pattern,
  timestamp: option('-t, --timestamp', 'include timestamp on output', undefined, { cliOnly: true }),
  minLatencyMs: options.minLatencyMs,
};

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
      row: rowFormatter,
      json: jsonFormatter,
      // I/Os the in-kernel request table could not follow count as lost too.
      lost: untracked,
    },
    argv,
  ),
);
