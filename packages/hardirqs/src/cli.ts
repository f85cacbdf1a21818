#!/usr/bin/env node
// hardirqs: summarize hard irq event time as totals or histograms. Flags and
// output follow BCC's hardirqs (the kit's irq tool: kit/irqstats.ts).
import { irqMain } from '@ebpf/core/kit';
import { tool } from './index.js';

await irqMain({ name: 'hardirqs', description: 'Summarize hard irq event time as histograms', column: 'HARDIRQ', width: 26, section: 'hardirq', what: 'hard irq', countFlag: '-C, --count', tool });
