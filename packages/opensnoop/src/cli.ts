#!/usr/bin/env node
// opensnoop: trace open() syscalls. Flags and output follow BCC's opensnoop;
// --json prints one JSON object per event instead.
import { UsageError, possibleCpus } from '@ebpf/core';
import { custom, int, option, runCli, runEventCli } from '@ebpf/core/kit';
import { options, tool } from './index.js';
import { fastRow, header, rowFormatter } from './output.js';

const examples = `examples:
    opensnoop                        # trace all open() syscalls
    opensnoop -T                     # include timestamps
    opensnoop -U                     # include UID
    opensnoop -x                     # only show failed opens
    opensnoop -p 181                 # only trace PID 181
    opensnoop -t 123                 # only trace TID 123
    opensnoop -u 1000                # only trace UID 1000
    opensnoop -d 10                  # trace for 10 seconds only
    opensnoop -n main                # only print process names containing "main"
    opensnoop -e                     # show extended fields
    opensnoop -f O_WRONLY -f O_RDWR  # only print calls for writing
    opensnoop -f O_RDONLY            # only print calls for reading only
    opensnoop -F                     # show full path for an open file with relative path
    opensnoop --json                 # one JSON object per event`;

const pages = int(1, 1 << 18);
/** -b: pages per CPU, a power of two. */
const bufferPages = custom((text, flag) => {
  const n = pages.parse(text, flag);
  if ((n & (n - 1)) !== 0) throw new UsageError(`invalid ${flag} value '${text}': must be a power of two number of pages`);
  return n;
}, pages.check);

const cliOnly = { cliOnly: true } as const;

/** Every flag, in BCC's order: opensnoop's options and the display flags. */
export const flags = {
  timestamp: option('-T, --timestamp', 'include timestamp on output', undefined, cliOnly),
  printUid: option('-U, --print-uid', 'print UID column', undefined, cliOnly),
  failed: options.failed,
  pid: options.pid,
  tid: options.tid,
  cgroupmap: options.cgroupmap,
  mntnsmap: options.mntnsmap,
  cgroup: options.cgroup,
  uid: options.uid,
  duration: option('-d, --duration <DURATION>', 'total duration of trace in seconds', int(1, Number.MAX_SAFE_INTEGER), cliOnly),
  name: options.name,
  extendedFields: option('-e, --extended_fields', 'show extended fields', undefined, { ...cliOnly, alias: '--extended-fields' }),
  flags: options.flags,
  fullPath: options.fullPath,
  bufferPages: option(
    '-b, --buffer-pages <BUFFER_PAGES>',
    'size of the ring buffer, in pages per CPU (must be a power of two number of pages; default: sized for a 250 ms open() storm on every CPU, -v says how much)',
    bufferPages,
    cliOnly,
  ),
};

/** BCC's -b is pages for each CPU's perf buffer; ours is one ring for all CPUs: as much memory, up to a power of two. */
function ringBytes(pagesPerCpu: number): number {
  let ring = 4096;
  while (ring < pagesPerCpu * 4096 * possibleCpus()) ring *= 2;
  return Math.min(ring, 2 ** 30);
}

await runCli('opensnoop', (argv) =>
  runEventCli(
    {
      name: 'opensnoop',
      description: 'Trace open() syscalls',
      options: flags,
      examples,
      tool,
      toOptions: (f, parsed) => ({ ...parsed.options, ringBytes: f.bufferPages === undefined ? undefined : ringBytes(f.bufferPages) }),
      header,
      row: rowFormatter,
      fastRow,
    },
    argv,
  ),
);
