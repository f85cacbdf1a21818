// @ebpf/softirqs: time spent in each kind of soft interrupt, built in the kernel.
//
//   import { softirqs } from '@ebpf/softirqs';
//   const s = softirqs({ intervalMs: 1000 });
//   for await (const snap of s) for (const x of snap.stats) console.log(x.name, x.count, x.totalNs);
import { defineIrqTool, type IrqOptions, type IrqSnapshot, type Periodic } from '@ebpf/core/kit';
import { IRQ_STAT_OFFSETS, NR_SOFTIRQS } from './softirqs.gen.js';

export type { IrqStat, IrqSnapshot, IrqOptions as SoftirqsOptions } from '@ebpf/core/kit';

/** The kernel's softirq vectors (enum HI_SOFTIRQ..RCU_SOFTIRQ), as BCC names them. */
export const SOFTIRQ_NAMES = ['hi', 'timer', 'net_tx', 'net_rx', 'block', 'irq_poll', 'tasklet', 'sched', 'hrtimer', 'rcu'] as const;
if (SOFTIRQ_NAMES.length !== NR_SOFTIRQS) throw new Error('softirqs: vector names out of date');

export const tool = defineIrqTool({
  name: 'softirqs',
  object: new URL('./softirqs.bpf.o', import.meta.url),
  offsets: IRQ_STAT_OFFSETS,
  keyName: (key) => SOFTIRQ_NAMES[key.readUInt32LE(0)] ?? `vec${key.readUInt32LE(0)}`,
});

/** Starts tracing softirqs. Throws a UsageError for bad options, a PreflightError when the machine cannot trace. */
export function softirqs(opts: IrqOptions = {}): Periodic<IrqSnapshot> {
  return tool.start(opts);
}
