// How tcpstates prints a change: BCC's columns (default, -w wide, -s CSV,
// with -T time and -t timestamp prefixes), or one JSON object per line.
//
// BCC's tcpstates prints with Python's str formatting (widths count
// characters; COMM is cut by %-10.10s):
//   header  "%-16s %-5s %-10.10s %s%-15s %-5s %-15s %-5s %-11s -> %-11s %s"
//   row     "%-16x %-5d %-10.10s %s%-15s %-5d %-15s %-5d %-11s -> %-11s %.3f"
//   -w      "%-16s %-5s %-16.16s %-2s %-26s %-5s %-26s %-5s %-11s -> %-11s %s"
//           "%-16x %-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %-11s -> %-11s %.3f"
//   -s      "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s"
//           "%x,%d,%s,%s,%s,%s,%s,%d,%s,%s,%.3f"
//   -T      "%-8s " HH:MM:SS (CSV "%s,");  -t "%-9.6f " seconds since the first change (CSV "%.6f,")
// The IP column (%s before LADDR) is empty in the default layout. MS is the
// span in whole microseconds / 1000 (0.000 when not known, as BCC). The
// prefix and PID ... RPORT are tcplife's too (kit: TcpColumns).
import { escapeControl, pad } from '@ebpf/core/format';
import { tcpStateName } from '@ebpf/core/inet';
import { TcpColumns, type BatchClock, type FlagsOf, type RowBuffer } from '@ebpf/core/kit';
import type { flags } from './cli.js';
import type { TcpStateChange } from './index.js';
import { EVENT_OFFSETS as AT, F_SPAN } from './tcpstates.gen.js';

/** The CLI flags that shape output. */
export type Flags = Pick<FlagsOf<typeof flags>, 'time' | 'timestamp' | 'wide' | 'csv'>;

/** A width, 0 (unpadded) in CSV. */
const w = (c: TcpColumns, n: number) => (c.L.csv ? 0 : n);

/** MS: whole µs / 1000, three decimals (exact: integer arithmetic). */
export function ms(spanNs: number | undefined): string {
  if (spanNs === undefined) return '0.000';
  const us = Math.floor(spanNs / 1000);
  return `${Math.floor(us / 1000)}.${String(us % 1000).padStart(3, '0')}`;
}

/** SKADDR, then the flow (PID ... RPORT), then OLDSTATE -> NEWSTATE MS. */
function columns(c: TcpColumns, sk: string, flow: string, old: string, nu: string, msText: string): string {
  const s = c.L.sep;
  const arrow = c.L.csv ? s : ' -> ';
  return `${pad(sk, w(c, 16))}${s}${flow}${s}${pad(old, w(c, 11))}${arrow}${pad(nu, w(c, 11))}${s}${msText}`;
}

/** The header line, as BCC builds it. */
export function header(f: Flags): string {
  const c = new TcpColumns(f);
  const flow = c.flow('C-PID', 'C-COMM', 'IP', 'LADDR', 'LPORT', 'RADDR', 'RPORT', true);
  return c.headerPrefix() + columns(c, 'SKADDR', flow, 'OLDSTATE', 'NEWSTATE', 'MS');
}

// State names as bytes, for the fast rows.
const STATE_NAMES = Array.from({ length: 256 }, (_, i) => tcpStateName(i));
const HEX = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** Formats rows; its TcpColumns holds the time of the first change, which -t counts from. */
export class Formatter {
  readonly #f: Flags;
  readonly #c: TcpColumns;
  #hi = 0;
  #hiHex = '';

  constructor(f: Flags, clock?: BatchClock) {
    this.#f = f;
    this.#c = new TcpColumns(f, clock);
  }

  row(e: TcpStateChange): string {
    const c = this.#c;
    const flow = c.flow(String(e.pid), TcpColumns.comm(e), String(e.family), e.laddr, String(e.lport), e.raddr, String(e.rport));
    return `${c.prefix(e.timestamp)}${columns(c, e.skaddr.toString(16), flow, e.oldState, e.newState, ms(e.spanNs))}\n`;
  }

  /**
   * The same row, written from the ring record straight into the output;
   * false (the slow path's business) for a comm that needs escaping or
   * quoting.
   */
  fast(view: DataView, o: number, _length: number, out: RowBuffer): boolean {
    const c = this.#c;
    const csv = c.L.csv;
    const sep = c.L.sep.charCodeAt(0);
    if (this.#f.time || this.#f.timestamp) out.ascii(c.prefix(view.getBigUint64(o + AT.ts, true)));
    // SKADDR: %-16x (a kernel address: its upper half is nearly always the same)
    const start = out.pos;
    const hi = view.getUint32(o + AT.skaddr + 4, true);
    const lo = view.getUint32(o + AT.skaddr, true);
    if (hi !== 0) {
      if (hi !== this.#hi) {
        this.#hi = hi;
        this.#hiHex = hi.toString(16);
      }
      out.ascii(this.#hiHex);
      for (let sh = 28; sh >= 0; sh -= 4) out.byte(HEX[(lo >>> sh) & 15]!);
    } else out.ascii(lo.toString(16));
    if (!csv) out.spacesTo(start + 16);
    out.byte(sep);
    // (owner: a u8 in this record)
    if (!c.fastFlow(view, o, AT, 1, out)) return false;
    out.byte(sep);
    out.ascii(STATE_NAMES[view.getUint8(o + AT.oldstate)]!, w(c, 11));
    if (csv) out.byte(sep);
    else out.ascii(' -> ');
    out.ascii(STATE_NAMES[view.getUint8(o + AT.newstate)]!, w(c, 11));
    out.byte(sep);
    if (view.getUint8(o + AT.flags) & F_SPAN) {
      // whole µs of a u64 ns count (exact below 2^53 ns: 104 days)
      const us = Math.floor((view.getUint32(o + AT.span_ns + 4, true) * 2 ** 32 + view.getUint32(o + AT.span_ns, true)) / 1000);
      out.intLeft(Math.floor(us / 1000), 0);
      out.byte(0x2e); // .
      const frac = us % 1000;
      out.byte(0x30 + Math.floor(frac / 100));
      out.byte(0x30 + (Math.floor(frac / 10) % 10));
      out.byte(0x30 + (frac % 10));
    } else out.ascii('0.000');
    out.byte(0x0a);
    return true;
  }
}

/** The journal message BCC's -Y logs: "COMM LADDR LPORT → RADDR RPORT OLD → NEW". */
export function journalMessage(c: TcpStateChange): string {
  const comm = escapeControl(TcpColumns.comm(c));
  return `${comm} ${c.laddr} ${c.lport} → ${c.raddr} ${c.rport} ${c.oldState} → ${c.newState}`;
}
