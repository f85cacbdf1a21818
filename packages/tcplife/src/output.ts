// How tcplife prints a session: BCC's columns (default, -w wide, -s CSV, with
// -T time and -t timestamp prefixes), or one JSON object per line.
//
// BCC's tcplife prints with Python's print() and str formatting, so widths
// and the %-10.10s cut of COMM count characters (code points), not bytes:
//   header  "%-5s %-10.10s %s%-15s %-5s %-15s %-5s %5s %5s %s"
//   row     "%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d %.2f"
//   -w      "%-5s %-16.16s %-2s %-26s %-5s %-26s %-5s %6s %6s %s"
//           "%-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %6d %6d %.2f"
//   -s      "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s"
//           "%d,%s,%s,%s,%s,%s,%d,%d,%d,%.2f"
//   -T      "%-8s " HH:MM:SS (CSV "%s,");  -t "%-9.6f " seconds since the first session (CSV "%.6f,")
// The prefix and PID ... RPORT are tcpstates' too (kit: TcpColumns). TX_KB
// and RX_KB are bytes / 1024 cut to an integer; MS is the span in whole
// microseconds / 1000.
import { fitComm, fmtFixed } from '@ebpf/core/format';
import { TcpColumns, type BatchClock, type FlagsOf, type RowBuffer } from '@ebpf/core/kit';
import type { flags } from './cli.js';
import type { TcpSession } from './index.js';
import { EVENT_OFFSETS as AT } from './tcplife.gen.js';

/** The CLI flags that shape output. */
export type Flags = Pick<FlagsOf<typeof flags>, 'time' | 'timestamp' | 'wide' | 'csv'>;

/** `%Ns` (its values are ASCII). */
function rjust(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

export { fitComm };

/** KB as BCC prints it: bytes / 1024, cut to an integer. */
export const kb = (bytes: number): number => Math.floor(bytes / 1024);

/** MS as BCC prints it: whole microseconds / 1000, two decimals. */
export const ms = (durationNs: number): string => fmtFixed(Math.floor(durationNs / 1000) / 1000, 2);

/** TX_KB's and RX_KB's width: 5, 6 with -w, unpadded in CSV. */
const kbWidth = (c: TcpColumns): number => (c.L.csv ? 0 : c.L.ip < 0 ? 5 : 6);

/** TX_KB RX_KB MS, after PID ... RPORT. */
const tail = (c: TcpColumns, tx: string, rx: string, msText: string): string => {
  const s = c.L.sep;
  return `${s}${rjust(tx, kbWidth(c))}${s}${rjust(rx, kbWidth(c))}${s}${msText}`;
};

/** The header line, as BCC builds it. */
export function header(f: Flags): string {
  const c = new TcpColumns(f);
  return c.headerPrefix() + c.flow('PID', 'COMM', 'IP', 'LADDR', 'LPORT', 'RADDR', 'RPORT', true) + tail(c, 'TX_KB', 'RX_KB', 'MS');
}

/** A u64 at `at` as a number; -1 from 2^53 on (not exact as a number). */
function u53(view: DataView, at: number): number {
  const hi = view.getUint32(at + 4, true);
  return hi >= 0x200000 ? -1 : hi * 2 ** 32 + view.getUint32(at, true);
}

/** Formats rows; its TcpColumns holds the time of the first session, which -t counts from. */
export class Formatter {
  readonly #f: Flags;
  readonly #c: TcpColumns;
  readonly #kb: number;

  constructor(f: Flags, clock?: BatchClock) {
    this.#f = f;
    this.#c = new TcpColumns(f, clock);
    this.#kb = kbWidth(this.#c);
  }

  row(s: TcpSession): string {
    const c = this.#c;
    const flow = c.flow(String(s.pid), TcpColumns.comm(s), String(s.family), s.laddr, String(s.lport), s.raddr, String(s.rport));
    return `${c.prefix(s.timestamp)}${flow}${tail(c, String(kb(s.txBytes)), String(kb(s.rxBytes)), ms(s.durationNs))}\n`;
  }

  /**
   * The same row, written from the ring record straight into the output; false
   * (the slow path's business) for a comm that needs escaping or quoting, or
   * a count past 2^53.
   */
  fast(view: DataView, o: number, _length: number, out: RowBuffer): boolean {
    const c = this.#c;
    const tx = u53(view, o + AT.tx_bytes);
    const rx = u53(view, o + AT.rx_bytes);
    const ns = u53(view, o + AT.span_ns);
    if (tx < 0 || rx < 0 || ns < 0) return false;
    const sep = c.L.sep.charCodeAt(0);
    if (this.#f.time || this.#f.timestamp) out.ascii(c.prefix(view.getBigUint64(o + AT.ts, true)));
    // (owner: a u16 in this record)
    if (!c.fastFlow(view, o, AT, 2, out)) return false;
    out.byte(sep);
    out.intRight(kb(tx), this.#kb);
    out.byte(sep);
    out.intRight(kb(rx), this.#kb);
    out.byte(sep);
    // MS: whole µs / 1000, two decimals; away from a tie, rounding half up is Python's.
    const us = Math.floor(ns / 1000);
    if (us % 10 === 5) out.ascii(ms(ns));
    else {
      const cents = Math.floor(us / 10) + (us % 10 > 5 ? 1 : 0);
      out.intLeft(Math.floor(cents / 100), 0);
      out.byte(0x2e); // .
      out.intLeft(Math.floor((cents % 100) / 10), 0);
      out.intLeft(cents % 10, 0);
    }
    out.byte(0x0a);
    return true;
  }
}

