#!/usr/bin/env node
// softirqs: summarize soft irq event time as totals or histograms. Flags and
// output follow BCC's softirqs (libbpf-tools' has no -C: BCC's is kept; the
// kit's irq tool: kit/irqstats.ts).
import { irqMain } from '@ebpf/core/kit';
import { tool } from './index.js';

await irqMain({ name: 'softirqs', description: 'Summarize soft irq event time as histograms.', column: 'SOFTIRQ', width: 16, section: 'softirq', what: 'soft irq', countFlag: '-C, --events', countExample: true, tool });
