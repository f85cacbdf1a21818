#!/usr/bin/env node
// hardirqs: summarize hard irq event time as totals or histograms. Flags and
// output follow BCC's hardirqs.
import { runCli, runIrqCli } from '@ebpf/core/kit';
import { tool } from './index.js';

const examples = `examples:
    hardirqs            # sum hard irq event time
    hardirqs -d         # show hard irq event time as histograms
    hardirqs 1 10       # print 1 second summaries, 10 times
    hardirqs -NT 1      # 1s summaries, nanoseconds, and timestamps
    hardirqs -c 1       # sum hard irq event time on CPU 1 only`;

await runCli('hardirqs', (argv) =>
  runIrqCli(
    { name: 'hardirqs', description: 'Summarize hard irq event time as histograms', column: 'HARDIRQ', width: 26, section: 'hardirq', what: 'hard irq', countFlag: '-C, --count', examples, tool },
    argv,
  ),
);
