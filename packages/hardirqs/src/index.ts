// @ebpf/hardirqs: time spent in each hard interrupt handler, built in the kernel.
//
//   import { hardirqs } from '@ebpf/hardirqs';
//   const h = hardirqs({ intervalMs: 1000 });
//   for await (const snap of h) for (const x of snap.stats) console.log(x.name, x.count, x.totalNs);
import { cstring } from '@ebpf/core/decode';
import { defineIrqTool, type IrqOptions, type IrqSnapshot, type Periodic } from '@ebpf/core/kit';
import { IRQ_NAME_LEN, IRQ_STAT_OFFSETS } from './hardirqs.gen.js';

export type { IrqStat, IrqSnapshot, IrqOptions as HardirqsOptions } from '@ebpf/core/kit';

export const tool = defineIrqTool({
  name: 'hardirqs',
  object: new URL('./hardirqs.bpf.o', import.meta.url),
  offsets: IRQ_STAT_OFFSETS,
  keyName: (key) => cstring(new DataView(key.buffer, key.byteOffset, key.length), 0, IRQ_NAME_LEN),
  lost: (obj) => Number(obj.readGlobalInt('names_full')),
});

/** Starts tracing hard interrupt handlers. Throws a UsageError for bad options, a PreflightError when the machine cannot trace. */
export function hardirqs(opts: IrqOptions = {}): Periodic<IrqSnapshot> {
  return tool.start(opts);
}
