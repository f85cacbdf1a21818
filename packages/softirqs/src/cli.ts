#!/usr/bin/env node
// softirqs: summarize soft irq event time as totals or histograms. Flags and
// output follow BCC's softirqs (libbpf-tools' has no -C: BCC's is kept).
import { runCli, runIrqCli } from '@ebpf/core/kit';
import { tool } from './index.js';

const examples = `examples:
    softirqs            # sum soft irq event time
    softirqs -C         # show the number of soft irq events
    softirqs -d         # show soft irq event time as histograms
    softirqs 1 10       # print 1 second summaries, 10 times
    softirqs -NT 1      # 1s summaries, nanoseconds, and timestamps
    softirqs -c 1       # sum soft irq event time on CPU 1 only`;

await runCli('softirqs', (argv) =>
  runIrqCli(
    { name: 'softirqs', description: 'Summarize soft irq event time as histograms.', column: 'SOFTIRQ', width: 16, section: 'softirq', what: 'soft irq', countFlag: '-C, --events', examples, tool },
    argv,
  ),
);
