// How javagc prints: libbpf-tools' columns (TIME CPU PID GC TIME, the pause
// in microseconds), a log2 histogram of pauses (-H), or JSON lines (--json).
import { escapeControl, fmtFixed, hhmmss, log2Histogram, log2HistogramRows, log2Slot, pad } from '@ebpf/core/format';
import type { BatchClock } from '@ebpf/core/kit';
import type { GcEvent, PoolUsage } from './index.js';

/** libbpf javagc's first line, before the header. */
export const BANNER = 'Tracing javagc time... Hit Ctrl-C to end.';

/**
 * libbpf prints `"%-8s %-7s %-7s %-7s\n"`; its last column padded to 7 gives
 * the header (and every row) trailing spaces. We print the same columns
 * without them.
 */
export const HEADER = `${pad('TIME', 8)} ${pad('CPU', 7)} ${pad('PID', 7)} GC TIME`;

/** The header with -m (BCC's ugc labels its column "TIME (ms)"). */
export const HEADER_MS = `${HEADER} (ms)`;

/** One pool's description, as BCC's ugc meant to print it ("%s %s used=%d->%d max=%d->%d"; its formatter forgot to return it): what -F matches. */
export function poolDescription(p: PoolUsage): string {
  const after = p.after ?? p.before;
  return `${p.manager} ${p.pool} used=${p.before.used}->${after.used} max=${p.before.max}->${after.max}`;
}

/** One pool's line (control bytes escaped). */
export function formatPool(p: PoolUsage): string {
  return escapeControl(poolDescription(p));
}

/** How rows are printed: the pools that follow a GC's row (all, those -F matched, or none) and the unit. */
export interface RowStyle {
  /** Pool lines under each row: every pool (--pools), or those whose description contains this text (-F). */
  pools?: boolean | string;
  /** -m: the duration in milliseconds with two decimals (BCC's "%.2f"), not whole microseconds. */
  ms?: boolean;
}

/** The duration column: whole µs (libbpf-tools'), or ms with two decimals (-m). */
export function durationText(ev: GcEvent, ms = false): string {
  return ms ? fmtFixed(Number(ev.durationNs) / 1e6, 2) : String(ev.durationUs);
}

/**
 * A row: `"%-8s %-7d %-7d %lld"` (libbpf's, minus the trailing spaces): local
 * time of the GC's end, CPU, PID, duration in µs (ms with -m). With --pools,
 * concurrent cycles are marked, and each pool follows on its own indented line.
 */
export function formatRow(ev: GcEvent, style: RowStyle, clock: BatchClock): string {
  let row = `${pad(hhmmss(clock.wall(ev.timestamp)), 8)} ${pad(String(ev.cpu), 7)} ${pad(String(ev.pid), 7)} `;
  const d = durationText(ev, style.ms);
  if (ev.kind === 'cycle') row += `${pad(d, 7)} concurrent cycle`;
  else row += d;
  row += '\n';
  const shown = style.pools;
  if (shown) for (const p of ev.pools) if (shown === true || poolDescription(p).includes(shown)) row += `    ${formatPool(p)}\n`;
  return row;
}

/** Pause times in µs (ms with -m), bucketed by log2 (libbpf-tools' convention, see log2Slot). */
export class PauseHistogram {
  buckets: number[] = [];
  count = 0;
  readonly unit: 'usecs' | 'msecs';

  constructor(ms = false) {
    this.unit = ms ? 'msecs' : 'usecs';
  }

  add(ev: GcEvent): void {
    if (ev.kind !== 'pause') return;
    const slot = log2Slot(this.unit === 'msecs' ? Math.floor(ev.durationUs / 1000) : ev.durationUs);
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
    return `\n${hhmmss(now)}\n${log2Histogram(this.buckets, this.unit)}`;
  }

  /** --json's object (the CLI puts `time` and `elapsed` first). */
  json(): object {
    return {
      unit: this.unit,
      pauses: this.count,
      histogram: log2HistogramRows(this.buckets).map((r) => ({ low: r.low, high: r.high, count: r.count })),
    };
  }
}
