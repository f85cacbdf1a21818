// How javagc prints: libbpf-tools' columns (TIME CPU PID GC TIME, the pause
// in microseconds), a log2 histogram of pauses (-H), or JSON lines (--json).
import { escapeControl, hhmmss, jsonLine, log2Histogram, log2HistogramRows, log2Slot, pad } from '@ebpf/core/format';
import type { BatchClock } from '@ebpf/core/kit';
import type { GcEvent, MemoryUsage, PoolUsage } from './index.js';

/** libbpf javagc's first line, before the header. */
export const BANNER = 'Tracing javagc time... Hit Ctrl-C to end.';

/**
 * libbpf prints `"%-8s %-7s %-7s %-7s\n"`; its last column padded to 7 gives
 * the header (and every row) trailing spaces. We print the same columns
 * without them.
 */
export const HEADER = `${pad('TIME', 8)} ${pad('CPU', 7)} ${pad('PID', 7)} GC TIME`;

/** One pool as BCC's ugc meant to print it ("%s %s used=%d->%d max=%d->%d"; its formatter forgot to return it). */
export function formatPool(p: PoolUsage): string {
  const after = p.after ?? p.before;
  return escapeControl(`${p.manager} ${p.pool} used=${p.before.used}->${after.used} max=${p.before.max}->${after.max}`);
}

/**
 * A row: `"%-8s %-7d %-7d %lld"` (libbpf's, minus the trailing spaces): local
 * time of the GC's end, CPU, PID, duration in µs. With --pools, concurrent
 * cycles are marked, and each pool follows on its own indented line.
 */
export function formatRow(ev: GcEvent, withPools: boolean, clock: BatchClock): string {
  let row = `${pad(hhmmss(clock.wall(ev.timestamp)), 8)} ${pad(String(ev.cpu), 7)} ${pad(String(ev.pid), 7)} `;
  if (ev.kind === 'cycle') row += `${pad(String(ev.durationUs), 7)} concurrent cycle`;
  else row += String(ev.durationUs);
  row += '\n';
  if (withPools) for (const p of ev.pools) row += `    ${formatPool(p)}\n`;
  return row;
}

function usageJson(u: MemoryUsage | undefined): MemoryUsage | null {
  return u ? { init: u.init, used: u.used, committed: u.committed, max: u.max } : null;
}

/** One JSON object per collection. */
export function formatJson(ev: GcEvent, withPools: boolean, clock: BatchClock): object {
  const obj: Record<string, unknown> = {
    time: clock.wall(ev.timestamp).toISOString(),
    timestamp: ev.timestamp,
    kind: ev.kind,
    pid: ev.pid,
    tid: ev.tid,
    cpu: ev.cpu,
    full: ev.full,
    duration_us: ev.durationUs,
    duration_ns: ev.durationNs,
  };
  if (withPools) {
    obj.pools = ev.pools.map((p) => ({ manager: p.manager, pool: p.pool, before: usageJson(p.before), after: usageJson(p.after) }));
    if (ev.poolsDropped) obj.pools_dropped = ev.poolsDropped;
  }
  return obj;
}

/** Pause times in µs, bucketed by log2 (libbpf-tools' convention, see log2Slot). */
export class PauseHistogram {
  buckets: number[] = [];
  count = 0;

  add(ev: GcEvent): void {
    if (ev.kind !== 'pause') return;
    const slot = log2Slot(ev.durationUs);
    while (this.buckets.length <= slot) this.buckets.push(0);
    this.buckets[slot]!++;
    this.count++;
  }

  clear(): void {
    this.buckets = [];
    this.count = 0;
  }

  /** A blank line, the time, and the histogram (no rows when there were no pauses). */
  text(now: Date = new Date()): string {
    return `\n${hhmmss(now)}\n${log2Histogram(this.buckets, 'usecs')}`;
  }

  json(now: Date = new Date()): string {
    return jsonLine({
      time: now.toISOString(),
      unit: 'usecs',
      pauses: this.count,
      histogram: log2HistogramRows(this.buckets).map((r) => ({ low: r.low, high: r.high, count: r.count })),
    });
  }
}
