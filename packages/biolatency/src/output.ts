// How biolatency prints a snapshot: exactly as BCC's biolatency, or one JSON
// object per histogram.
import { escapeControl, log2Histogram, log2HistogramRows } from '@ebpf/core/format';
import { periodHead, type FlagsOf } from '@ebpf/core/kit';
import type { Histogram, options, Snapshot } from './index.js';

/** The CLI flags that shape output. */
export type Flags = FlagsOf<typeof options>;

export const BANNER = 'Tracing block device I/O... Hit Ctrl-C to end.\n';

const NS_PER_UNIT = { usecs: 1000, msecs: 1_000_000 } as const;

/** Whole units, truncated (BCC's %ld of a latency). */
function units(ns: number, unit: Snapshot['unit']): number {
  return Math.floor(ns / NS_PER_UNIT[unit]);
}

/**
 * One period as BCC prints it: a blank line, the time with -T, then each
 * histogram (under "disk = NAME" with -D, "flags = ..." with -F), then with
 * -e the average and total. Nothing but the blank line (and time) when no
 * I/O completed.
 */
export function formatSnapshot(s: Snapshot, f: Flags): string {
  let out = periodHead(s.time, f.timestamp);
  for (const h of s.histograms) {
    if (h.disk) out += `\ndisk = ${escapeControl(h.disk.name)}\n`;
    if (h.flags) out += `\nflags = ${h.flags.text}\n`;
    out += log2Histogram(h.buckets, s.unit);
  }
  if (f.extension && s.count > 0) {
    // BCC sums latencies already truncated to units; this is the exact sum, truncated.
    const avg = units(s.totalNs / s.count, s.unit);
    out += `\navg = ${avg} ${s.unit}, total: ${units(s.totalNs, s.unit)} ${s.unit}, count: ${s.count}\n\n`;
  }
  return out;
}

function histogramJson(h: Histogram, s: Snapshot): Record<string, unknown> {
  const o: Record<string, unknown> = { unit: s.unit };
  if (h.disk) o.disk = h.disk.name;
  if (h.flags) o.flags = h.flags.text;
  o.count = h.count;
  o.total = units(h.totalNs, s.unit);
  o.average = units(h.totalNs / h.count, s.unit);
  o.buckets = log2HistogramRows(h.buckets);
  return o;
}

/** --json: one object per histogram (none for a period without I/O). */
export function histogramsJson(s: Snapshot): object[] {
  return s.histograms.map((h) => histogramJson(h, s));
}
