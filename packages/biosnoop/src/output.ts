// How biosnoop prints an I/O: BCC's columns exactly, or one JSON object.
import { kernelDevName, requestOpLetter } from '@ebpf/core';
import { escapeControl, fmtFixed, hhmmss, pad, padStart } from '@ebpf/core/format';
import type { BatchClock, FlagsOf, RowBuffer } from '@ebpf/core/kit';
import { EVENT_OFFSETS, PATTERN_RANDOM, PATTERN_SEQUENTIAL } from './biosnoop.gen.js';
import type { flags } from './cli.js';
import type { BlockIo } from './index.js';

/** The CLI flags that shape output. */
export type Flags = FlagsOf<typeof flags>;

const PATTERN_LETTER = { sequential: 'S', random: 'R', unknown: '?' } as const;
const SPACE = 0x20;

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

/** Local HH:MM:SS.mmm (-t). */
function hmsMillis(d: Date): string {
  return `${hhmmss(d)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

const u64 = (v: DataView, at: number): number => v.getUint32(at + 4, true) * 2 ** 32 + v.getUint32(at, true);
const AT = EVENT_OFFSETS;
const LETTER: Record<number, number> = { [PATTERN_SEQUENTIAL]: 0x53, [PATTERN_RANDOM]: 0x52 }; // S R; else '?'

/**
 * Rows as BCC prints them, from a decoded event (row) or straight from the
 * ring record (fast, the common rows); one instance per run, so both count
 * TIME(s) from the same first I/O. TIME(s) is in whole microseconds, as
 * BCC's; an I/O without an issuer shows COMM "?" and PID 0.
 */
export class Rows {
  #firstUs: number | undefined;
  #disks = new Map<number, string | undefined>(); // dev -> printable name, or undefined: the slow path escapes it
  #letters = new Map<number, number>();
  constructor(
    readonly f: Flags,
    readonly clock: BatchClock,
  ) {}

  /** TIME(s) (%-11.6f) or -t's TIMESTAMP (%-12s), with the space after it. */
  #time(ts: bigint): string {
    if (this.f.timestamp) return `${pad(hmsMillis(this.clock.wall(ts)), 12)} `;
    const us = Number(ts / 1000n);
    this.#firstUs ??= us;
    const d = us - this.#firstUs;
    return `${pad(`${Math.floor(d / 1e6)}.${String(d % 1e6).padStart(6, '0')}`, 11)} `;
  }

  row(io: BlockIo): string {
    const f = this.f;
    let r = this.#time(io.timestamp);
    r += `${comm(io.comm)} ${pad(String(io.pid ?? 0), 7)} ${pad(escapeControl(io.disk.name), 9)} ${io.type} `;
    r += `${pad(String(io.sector), 10)} ${pad(String(io.bytes), 7)}`;
    if (f.pattern) r += `${PATTERN_LETTER[io.pattern ?? 'unknown']} `;
    if (f.queued) r += `${ms(io.queueNs ?? 0)} `;
    return `${r}${ms(io.latencyNs)}\n`;
  }

  fast(v: DataView, o: number, _length: number, out: RowBuffer): boolean {
    const f = this.f;
    const dev = v.getUint32(o + AT.dev, true);
    let disk = this.#disks.get(dev);
    if (disk === undefined) {
      if (this.#disks.has(dev)) return false;
      const name = kernelDevName(dev);
      this.#disks.set(dev, (disk = /^[\x21-\x7e]*$/.test(name) ? name : undefined));
      if (disk === undefined) return false;
    }
    out.ascii(this.#time(v.getBigUint64(o + AT.ts, true)));
    const pid = v.getUint32(o + AT.pid, true);
    if (pid === 0 && v.getUint8(o + AT.comm) === 0) out.ascii('?', 14);
    else if (!out.cstring(v, o + AT.comm, 14, 14)) return false;
    out.byte(SPACE);
    out.intLeft(pid, 7);
    out.byte(SPACE);
    out.ascii(disk, 9);
    out.byte(SPACE);
    const flags = v.getUint32(o + AT.flags, true);
    let letter = this.#letters.get(flags);
    if (letter === undefined) this.#letters.set(flags, (letter = requestOpLetter(flags).charCodeAt(0)));
    out.byte(letter);
    out.byte(SPACE);
    out.intLeft(u64(v, o + AT.sector), 10);
    out.byte(SPACE);
    out.intLeft(v.getUint32(o + AT.bytes, true), 7);
    if (f.pattern) {
      out.byte(LETTER[v.getUint8(o + AT.pattern)] ?? 0x3f);
      out.byte(SPACE);
    }
    if (f.queued) out.ascii(`${ms(v.getUint8(o + AT.queue_known) ? u64(v, o + AT.queue_ns) : 0)} `);
    out.ascii(ms(u64(v, o + AT.lat_ns)));
    out.byte(0x0a);
    return true;
  }
}

