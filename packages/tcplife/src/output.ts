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
// An address longer than its column (IPv6 in the default layout) is printed
// whole and pushes the rest of the line right, as BCC does. TX_KB and RX_KB
// are bytes / 1024 cut to an integer; MS is the span in whole microseconds / 1000.
import { csvField, escapeControl, fitComm, fmtFixed, hhmmss } from '@ebpf/core/format';
import { AF_INET6, formatIPv4, formatIPv6, TCP_OWNER } from '@ebpf/core/inet';
import type { BatchClock, FlagsOf, RowBuffer } from '@ebpf/core/kit';
import type { flags } from './cli.js';
import type { TcpSession } from './index.js';
import { EVENT_OFFSETS as AT } from './tcplife.gen.js';

/** The CLI flags that shape output. */
export type Flags = Pick<FlagsOf<typeof flags>, 'time' | 'timestamp' | 'wide' | 'csv'>;

const SURROGATE = /[\ud800-\udfff]/;

/** Length in code points (what Python's %s widths count). */
function cpLength(s: string): number {
  return SURROGATE.test(s) ? Array.from(s).length : s.length;
}

/** `%-Ns` in code points, never truncated. */
function ljust(s: string, width: number): string {
  const n = s.length >= width ? width : cpLength(s);
  return n >= width ? s : s + ' '.repeat(width - n);
}

/** `%Ns` in code points. */
function rjust(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

export { fitComm };

/** KB as BCC prints it: bytes / 1024, cut to an integer. */
export const kb = (bytes: number): number => Math.floor(bytes / 1024);

/** MS as BCC prints it: whole microseconds / 1000, two decimals. */
export const ms = (durationNs: number): string => fmtFixed(Math.floor(durationNs / 1000) / 1000, 2);

/** Column widths of a layout (0: unpadded; ip -1: no IP column). COMM is cut to its width, except in CSV. */
interface Layout {
  sep: string;
  time: number;
  secs: number;
  pid: number;
  comm: number;
  ip: number;
  addr: number;
  port: number;
  kb: number;
}
const DEFAULT: Layout = { sep: ' ', time: 8, secs: 9, pid: 5, comm: 10, ip: -1, addr: 15, port: 5, kb: 5 };
const WIDE: Layout = { sep: ' ', time: 8, secs: 9, pid: 5, comm: 16, ip: 2, addr: 26, port: 5, kb: 6 };
const CSV: Layout = { sep: ',', time: 0, secs: 0, pid: 0, comm: 0, ip: 0, addr: 0, port: 0, kb: 0 };
// -s wins over -w, as in BCC.
const layoutOf = (f: Flags): Layout => (f.csv ? CSV : f.wide ? WIDE : DEFAULT);

/** The columns after the -T/-t prefix, in order: pid, comm, ip, laddr, lport, raddr, rport, tx, rx, ms. */
function columns(L: Layout, c: string[]): string {
  const [pid, comm, ip, laddr, lport, raddr, rport, tx, rx, msText] = c as [string, string, string, string, string, string, string, string, string, string];
  const s = L.sep;
  const name = L === CSV ? csvField(escapeControl(comm)) : fitComm(comm, L.comm);
  return `${ljust(pid, L.pid)}${s}${name}${s}${L.ip < 0 ? '' : ljust(ip, L.ip) + s}${ljust(laddr, L.addr)}${s}${ljust(lport, L.port)}${s}${ljust(raddr, L.addr)}${s}${ljust(rport, L.port)}${s}${rjust(tx, L.kb)}${s}${rjust(rx, L.kb)}${s}${msText}`;
}

/** The header line, as BCC builds it. */
export function header(f: Flags): string {
  const L = layoutOf(f);
  const prefix = (f.time ? ljust('TIME', L.time) + L.sep : '') + (f.timestamp ? ljust('TIME(s)', L.secs) + L.sep : '');
  return prefix + columns(L, ['PID', 'COMM', 'IP', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'TX_KB', 'RX_KB', 'MS']);
}

/** A u64 at `at` as a number; -1 from 2^53 on (not exact as a number). */
function u53(view: DataView, at: number): number {
  const hi = view.getUint32(at + 4, true);
  return hi >= 0x200000 ? -1 : hi * 2 ** 32 + view.getUint32(at, true);
}

/** Formats rows; holds the time of the first session, which -t counts from. */
export class Formatter {
  #firstUs: bigint | undefined;
  readonly #f: Flags;
  readonly #L: Layout;
  readonly #clock: BatchClock | undefined;
  #view: DataView | undefined;
  #bytes: Uint8Array = new Uint8Array(0);

  constructor(f: Flags, clock?: BatchClock) {
    this.#f = f;
    this.#L = layoutOf(f);
    this.#clock = clock;
  }

  /** The -T and -t columns, with their separators. */
  #prefix(timestamp: bigint): string {
    const f = this.#f;
    let p = '';
    if (f.time) p += ljust(this.#clock ? this.#clock.hms() : hhmmss(), this.#L.time) + this.#L.sep;
    if (f.timestamp) {
      const us = timestamp / 1000n;
      this.#firstUs ??= us;
      p += ljust(fmtFixed(Number(us - this.#firstUs) / 1e6, 6), this.#L.secs) + this.#L.sep;
    }
    return p;
  }

  row(s: TcpSession): string {
    const comm = s.owner === 'unknown' ? '?' : s.comm;
    const c = [String(s.pid), comm, String(s.family), s.laddr, String(s.lport), s.raddr, String(s.rport), String(kb(s.txBytes)), String(kb(s.rxBytes)), ms(s.durationNs)];
    return `${this.#prefix(s.timestamp)}${columns(this.#L, c)}\n`;
  }

  /**
   * The same row, written from the ring record straight into the output; false
   * (the slow path's business) for a comm that needs escaping or quoting, or
   * a count past 2^53.
   */
  fast(view: DataView, o: number, _length: number, out: RowBuffer): boolean {
    const L = this.#L;
    const tx = u53(view, o + AT.tx_bytes);
    const rx = u53(view, o + AT.rx_bytes);
    const ns = u53(view, o + AT.span_ns);
    if (tx < 0 || rx < 0 || ns < 0) return false;
    const sep = L.sep.charCodeAt(0);
    if (this.#f.time || this.#f.timestamp) out.ascii(this.#prefix(view.getBigUint64(o + AT.ts, true)));
    out.intLeft(view.getUint32(o + AT.pid, true), L.pid);
    out.byte(sep);
    if (view.getUint16(o + AT.owner, true) === TCP_OWNER.NONE) out.ascii('?', L.comm);
    else if (L === CSV ? !out.csvCstring(view, o + AT.comm, 16) : !out.cstring(view, o + AT.comm, L.comm, L.comm)) return false;
    out.byte(sep);
    const v6 = view.getUint16(o + AT.family, true) === AF_INET6;
    if (L.ip >= 0) {
      out.intLeft(v6 ? 6 : 4, L.ip);
      out.byte(sep);
    }
    this.#addr(view, o + AT.laddr, v6, out);
    out.byte(sep);
    out.intLeft(view.getUint16(o + AT.lport, true), L.port);
    out.byte(sep);
    this.#addr(view, o + AT.raddr, v6, out);
    out.byte(sep);
    out.intLeft(view.getUint16(o + AT.rport, true), L.port);
    out.byte(sep);
    out.intRight(kb(tx), L.kb);
    out.byte(sep);
    out.intRight(kb(rx), L.kb);
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

  /** An address at `at`, left-aligned in the layout's column. */
  #addr(view: DataView, at: number, v6: boolean, out: RowBuffer): void {
    if (view !== this.#view) {
      this.#view = view;
      this.#bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    }
    out.ascii(v6 ? formatIPv6(this.#bytes, at) : formatIPv4(this.#bytes, at), this.#L.addr);
  }
}

