#!/usr/bin/env node
// oomkill: trace the kernel's OOM killer. Output follows BCC's oomkill (which
// has no options); --json prints one JSON object per kill instead.
import { runCli, runEventCli } from '@ebpf/core/kit';
import { options, tool } from './index.js';
import { HEADER, formatRow } from './output.js';

const examples = `examples:
    oomkill                  # trace OOM kills
    oomkill --json           # one JSON object per kill`;

await runCli('oomkill', (argv) =>
  runEventCli(
    {
      name: 'oomkill',
      description: 'Trace OOM kills (the OOM killer, oom:mark_victim)',
      options,
      examples,
      tool,
      header: () => HEADER,
      row: (_f, clock) => (k) => formatRow(k, clock.wall),
    },
    argv,
  ),
);
