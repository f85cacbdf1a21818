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
// span in whole microseconds / 1000 (0.000 when not known, as BCC). An
// address longer than its column is printed whole and pushes the rest right.
import { csvField, escapeControl, fitComm, hhmmss, pad } from '@ebpf/core/format';
import { AF_INET6, formatIPv6, TCP_OWNER, tcpStateName } from '@ebpf/core/inet';
import type { BatchClock, FlagsOf, RowBuffer } from '@ebpf/core/kit';
import type { flags } from './cli.js';
import type { TcpStateChange } from './index.js';
import { EVENT_OFFSETS as AT, F_SPAN } from './tcpstates.gen.js';

/** The CLI flags that shape output. */
export type Flags = Pick<FlagsOf<typeof flags>, 'time' | 'timestamp' | 'wide' | 'csv'>;

/** Column widths of a layout (0: unpadded; ip -1: an empty IP column). */
interface Layout {
  sep: string;
  comm: number;
  ip: number;
  addr: number;
}
const DEFAULT: Layout = { sep: ' ', comm: 10, ip: -1, addr: 15 };
const WIDE: Layout = { sep: ' ', comm: 16, ip: 2, addr: 26 };
const CSV: Layout = { sep: ',', comm: 0, ip: 0, addr: 0 };
// -s wins over -w, as in BCC.
const layoutOf = (f: Flags): Layout => (f.csv ? CSV : f.wide ? WIDE : DEFAULT);
const w = (L: Layout, n: number) => (L === CSV ? 0 : n);

/** MS: whole µs / 1000, three decimals (exact: integer arithmetic). */
export function ms(spanNs: number | undefined): string {
  if (spanNs === undefined) return '0.000';
  const us = Math.floor(spanNs / 1000);
  return `${Math.floor(us / 1000)}.${String(us % 1000).padStart(3, '0')}`;
}

/** Seconds from µs, six decimals (exact). */
const secs = (us: number) => `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;

/** The columns after the -T/-t prefix: skaddr, pid, comm, ip, laddr, lport, raddr, rport, old, new, ms. */
function columns(L: Layout, c: string[], header: boolean): string {
  const [sk, pid, comm, ip, laddr, lport, raddr, rport, old, nu, msText] = c as [string, string, string, string, string, string, string, string, string, string, string];
  const s = L.sep;
  const name = L === CSV ? (header ? comm : csvField(escapeControl(comm))) : fitComm(comm, L.comm);
  const ipCol = L.ip < 0 ? '' : pad(ip, L.ip) + s;
  const arrow = L === CSV ? s : ' -> ';
  return `${pad(sk, w(L, 16))}${s}${pad(pid, w(L, 5))}${s}${name}${s}${ipCol}${pad(laddr, L.addr)}${s}${pad(lport, w(L, 5))}${s}${pad(raddr, L.addr)}${s}${pad(rport, w(L, 5))}${s}${pad(old, w(L, 11))}${arrow}${pad(nu, w(L, 11))}${s}${msText}`;
}

/** The header line, as BCC builds it. */
export function header(f: Flags): string {
  const L = layoutOf(f);
  const prefix = (f.time ? pad('TIME', w(L, 8)) + L.sep : '') + (f.timestamp ? pad('TIME(s)', w(L, 9)) + L.sep : '');
  return prefix + columns(L, ['SKADDR', 'C-PID', 'C-COMM', 'IP', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'OLDSTATE', 'NEWSTATE', 'MS'], true);
}

// State names as bytes, for the fast rows.
const STATE_NAMES = Array.from({ length: 256 }, (_, i) => tcpStateName(i));
const HEX = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** Formats rows; holds the time of the first change, which -t counts from. */
export class Formatter {
  #firstUs: number | undefined;
  readonly #f: Flags;
  readonly #L: Layout;
  readonly #clock: BatchClock | undefined;
  #view: DataView | undefined;
  #bytes: Uint8Array = new Uint8Array(0);
  #hi = 0;
  #hiHex = '';
  // The last IPv4 addresses written, as text (a storm repeats them).
  #v4 = [-1, -1];
  #v4Text = ['', ''];

  constructor(f: Flags, clock?: BatchClock) {
    this.#f = f;
    this.#L = layoutOf(f);
    this.#clock = clock;
  }

  /** The -T and -t columns, with their separators. */
  #prefix(timestamp: bigint): string {
    const f = this.#f;
    const L = this.#L;
    let p = '';
    if (f.time) p += pad(this.#clock ? this.#clock.hms() : hhmmss(), w(L, 8)) + L.sep;
    if (f.timestamp) {
      const us = Number(timestamp / 1000n);
      this.#firstUs ??= us;
      p += pad(secs(us - this.#firstUs), w(L, 9)) + L.sep;
    }
    return p;
  }

  row(c: TcpStateChange): string {
    const comm = c.owner === 'unknown' ? '?' : c.comm;
    const cols = [c.skaddr.toString(16), String(c.pid), comm, String(c.family), c.laddr, String(c.lport), c.raddr, String(c.rport), c.oldState, c.newState, ms(c.spanNs)];
    return `${this.#prefix(c.timestamp)}${columns(this.#L, cols, false)}\n`;
  }

  /**
   * The same row, written from the ring record straight into the output;
   * false (the slow path's business) for a comm that needs escaping or
   * quoting.
   */
  fast(view: DataView, o: number, _length: number, out: RowBuffer): boolean {
    const L = this.#L;
    const csv = L === CSV;
    const sep = L.sep.charCodeAt(0);
    if (this.#f.time || this.#f.timestamp) out.ascii(this.#prefix(view.getBigUint64(o + AT.ts, true)));
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
    out.intLeft(view.getUint32(o + AT.pid, true), w(L, 5));
    out.byte(sep);
    if (view.getUint8(o + AT.owner) === TCP_OWNER.NONE) out.ascii('?', L.comm);
    else if (csv ? !out.csvCstring(view, o + AT.comm, 16) : !out.cstring(view, o + AT.comm, L.comm, L.comm)) return false;
    out.byte(sep);
    const v6 = view.getUint16(o + AT.family, true) === AF_INET6;
    if (L.ip >= 0) {
      out.intLeft(v6 ? 6 : 4, L.ip);
      out.byte(sep);
    }
    this.#addr(view, o + AT.laddr, v6, out, 0);
    out.byte(sep);
    out.intLeft(view.getUint16(o + AT.lport, true), w(L, 5));
    out.byte(sep);
    this.#addr(view, o + AT.raddr, v6, out, 1);
    out.byte(sep);
    out.intLeft(view.getUint16(o + AT.rport, true), w(L, 5));
    out.byte(sep);
    out.ascii(STATE_NAMES[view.getUint8(o + AT.oldstate)]!, w(L, 11));
    if (csv) out.byte(sep);
    else out.ascii(' -> ');
    out.ascii(STATE_NAMES[view.getUint8(o + AT.newstate)]!, w(L, 11));
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

  /** An address at `at`, left-aligned in the layout's column. */
  #addr(view: DataView, at: number, v6: boolean, out: RowBuffer, slot: 0 | 1): void {
    if (v6) {
      if (view !== this.#view) {
        this.#view = view;
        this.#bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      }
      out.ascii(formatIPv6(this.#bytes, at), this.#L.addr);
      return;
    }
    const u = view.getUint32(at, true);
    if (u !== this.#v4[slot]) {
      this.#v4[slot] = u;
      this.#v4Text[slot] = `${u & 255}.${(u >>> 8) & 255}.${(u >>> 16) & 255}.${u >>> 24}`;
    }
    out.ascii(this.#v4Text[slot]!, this.#L.addr);
  }
}

/** The journal message BCC's -Y logs: "COMM LADDR LPORT → RADDR RPORT OLD → NEW". */
export function journalMessage(c: TcpStateChange): string {
  const comm = escapeControl(c.owner === 'unknown' ? '?' : c.comm);
  return `${comm} ${c.laddr} ${c.lport} → ${c.raddr} ${c.rport} ${c.oldState} → ${c.newState}`;
}
