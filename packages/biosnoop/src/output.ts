// How biosnoop prints an I/O: BCC's columns exactly, or one JSON object.
import { escapeControl, fmtFixed, hhmmss, pad, padStart } from '@ebpf/core/format';
import type { BatchClock, FlagsOf } from '@ebpf/core/kit';
import type { flags } from './cli.js';
import type { BlockIo } from './index.js';

/** The CLI flags that shape output. */
export type Flags = FlagsOf<typeof flags>;

const PATTERN_LETTER = { sequential: 'S', random: 'R', unknown: '?' } as const;

/** BCC's header: "%-11s %-14s %-7s %-9s %-1s %-10s %-7s" [P] [QUE(ms)] LAT(ms); libbpf-tools' TIMESTAMP with -t. */
export function header(f: Flags): string {
  let h = f.timestamp ? `${pad('TIMESTAMP', 12)} ` : `${pad('TIME(s)', 11)} `;
  h += `${pad('COMM', 14)} ${pad('PID', 7)} ${pad('DISK', 9)} T ${pad('SECTOR', 10)} ${pad('BYTES', 7)}`;
  if (f.pattern) h += 'P ';
  if (f.queued) h += 'QUE(ms) ';
  return h + 'LAT(ms)';
}

/** %-14.14s of a comm: escaped, cut to 14 characters, padded. */
function comm(c: string | undefined): string {
  if (c === undefined) return '?             ';
  const s = escapeControl(c);
  return pad(s.length > 14 ? [...s].slice(0, 14).join('') : s, 14);
}

const ms = (ns: number): string => padStart(fmtFixed(ns / 1e6, 2), 7);

/** Local HH:MM:SS.mmm (libbpf-tools' -t). */
function hmsMillis(d: Date): string {
  return `${hhmmss(d)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * One row as BCC prints it. TIME(s) counts from the first I/O, in whole
 * microseconds as BCC's; an I/O without an issuer shows COMM "?" and PID 0.
 */
export function rowFormatter(f: Flags, clock: BatchClock): (io: BlockIo) => string {
  let firstUs: bigint | undefined;
  return (io) => {
    let r: string;
    if (f.timestamp) r = `${pad(hmsMillis(clock.wall(io.timestamp)), 12)} `;
    else {
      const us = io.timestamp / 1000n;
      firstUs ??= us;
      r = `${pad(fmtFixed(Number(us - firstUs) / 1e6, 6), 11)} `;
    }
    r += `${comm(io.comm)} ${pad(String(io.pid ?? 0), 7)} ${pad(escapeControl(io.disk.name), 9)} ${io.type} `;
    r += `${pad(String(io.sector), 10)} ${pad(String(io.bytes), 7)}`;
    if (f.pattern) r += `${PATTERN_LETTER[io.pattern ?? 'unknown']} `;
    if (f.queued) r += `${ms(io.queueNs ?? 0)} `;
    return `${r}${ms(io.latencyNs)}\n`;
  };
}

/** --json: one object per I/O; the issuer's pid and comm are null when unknown. */
export function jsonFormatter(f: Flags, clock: BatchClock): (io: BlockIo) => object {
  let first: bigint | undefined;
  return (io) => {
    first ??= io.timestamp;
    const o: Record<string, unknown> = {
      time: clock.wall(io.timestamp).toISOString(),
      timestamp: Number(io.timestamp - first) / 1e9,
      comm: io.comm ?? null,
      pid: io.pid ?? null,
      disk: io.disk.name,
      type: io.type,
      op: io.op,
      flags: io.flags,
      sector: io.sector,
      bytes: io.bytes,
    };
    if (f.pattern) o.pattern = io.pattern;
    if (f.queued) o.queue_ms = io.queueNs === undefined ? null : io.queueNs / 1e6;
    o.lat_ms = io.latencyNs / 1e6;
    return o;
  };
}
