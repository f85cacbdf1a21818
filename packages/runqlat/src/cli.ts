#!/usr/bin/env node
// runqlat: summarize run-queue (scheduler) latency as a histogram. Flags and
// output follow BCC's runqlat; --json prints one object per histogram.
import { log2Histogram, log2HistogramJson, log2Sections } from '@ebpf/core/format';
import { periodHead, runCli, runIntervalCli, type FlagsOf } from '@ebpf/core/kit';
import { options, runqlat, type Histogram, type Snapshot } from './index.js';

const examples = `examples:
    runqlat            # summarize run queue latency as a histogram
    runqlat 1 10       # print 1 second summaries, 10 times
    runqlat -mT 1      # 1s summaries, milliseconds, and timestamps
    runqlat -P         # show each PID separately
    runqlat -p 185     # trace PID 185 only
    runqlat --json 1   # one JSON object per histogram, every second`;

type Flags = FlagsOf<typeof options>;

/** The section a keyed histogram prints under ("pid = 1234"), as BCC names it. */
const keyOf = (h: Histogram): [string, number] | undefined =>
  h.pid !== undefined ? ['pid', h.pid] : h.tid !== undefined ? ['tid', h.tid] : h.pidns !== undefined ? ['pidns', h.pidns] : undefined;

/** One period as BCC prints it: a blank line, the time with -T, the histogram(s). */
function print(s: Snapshot, f: Flags): string {
  let out = periodHead(s.time, f.timestamp);
  const first = s.histograms[0];
  const key = first && keyOf(first);
  if (!key) return out + (first ? log2Histogram(first.buckets, s.unit) : '');
  return out + log2Sections(s.histograms.map((h) => ({ label: String(keyOf(h)![1]), buckets: h.buckets })), s.unit, key[0]);
}

/** --json: one object per histogram (none when nothing waited). */
function json(s: Snapshot): object[] {
  return s.histograms.map((h) => {
    const key = keyOf(h);
    const fields: Record<string, unknown> = { unit: s.unit };
    if (key) Object.assign(fields, { [key[0]]: key[1], comm: h.comm });
    return log2HistogramJson(fields, h, s.unit);
  });
}

await runCli('runqlat', (argv) =>
  runIntervalCli(
    {
      name: 'runqlat',
      description: 'Summarize run queue (scheduler) latency as a histogram',
      options,
      examples,
      jsonFlag: { flags: '--json', help: 'print one JSON object per histogram' },
      start: runqlat,
      banner: () => 'Tracing run queue latency... Hit Ctrl-C to end.\n',
      print,
      jsonLines: json,
      lostMessage: (n) => `${n} run queue waits not counted (no task storage, or the -P/-L/--pidnss map full)`,
    },
    argv,
  ),
);
