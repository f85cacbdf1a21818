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
import { escapeControl, fmtFixed, hhmmss, jsonLine } from '@ebpf/core/format';
import type { TcpSession } from './index.js';

/** The CLI flags that shape output. */
export interface Flags {
  time?: boolean;
  timestamp?: boolean;
  wide?: boolean;
  csv?: boolean;
  json?: boolean;
}

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

/**
 * `%-N.Ns` of a comm, control characters escaped: at most `width` code points
 * of output, padded to `width`, never cutting an escape (`\n`, `\x1b`) in half.
 */
export function fitComm(comm: string, width: number): string {
  const escaped = escapeControl(comm);
  if (escaped === comm && !SURROGATE.test(comm)) {
    return comm.length >= width ? comm.slice(0, width) : comm + ' '.repeat(width - comm.length);
  }
  let out = '';
  let n = 0;
  for (const ch of comm) {
    const shown = escapeControl(ch);
    const len = shown.length === 1 || ch.length === 2 ? 1 : shown.length;
    if (n + len > width) break;
    out += shown;
    n += len;
  }
  return out + ' '.repeat(width - n);
}

/** A CSV field: quoted (RFC 4180) only when it holds a comma or a quote. */
function csvField(s: string): string {
  return /[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** KB as BCC prints it: bytes / 1024, cut to an integer. */
export const kb = (bytes: number): number => Math.floor(bytes / 1024);

/** MS as BCC prints it: whole microseconds / 1000, two decimals. */
export const ms = (durationNs: number): string => fmtFixed(Math.floor(durationNs / 1000) / 1000, 2);

/** The header line, as BCC builds it. */
export function header(f: Flags): string {
  let h = '';
  if (f.time) h += f.csv ? 'TIME,' : ljust('TIME', 8) + ' ';
  if (f.timestamp) h += f.csv ? 'TIME(s),' : ljust('TIME(s)', 9) + ' ';
  if (f.csv) return h + 'PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS';
  if (f.wide) {
    return `${h}${ljust('PID', 5)} ${ljust('COMM', 16)} ${ljust('IP', 2)} ${ljust('LADDR', 26)} ${ljust('LPORT', 5)} ${ljust('RADDR', 26)} ${ljust('RPORT', 5)} ${rjust('TX_KB', 6)} ${rjust('RX_KB', 6)} MS`;
  }
  return `${h}${ljust('PID', 5)} ${ljust('COMM', 10)} ${ljust('LADDR', 15)} ${ljust('LPORT', 5)} ${ljust('RADDR', 15)} ${ljust('RPORT', 5)} ${rjust('TX_KB', 5)} ${rjust('RX_KB', 5)} MS`;
}

/** Formats rows; holds the time of the first session, which -t counts from. */
export class Formatter {
  #firstUs: bigint | undefined;
  readonly #f: Flags;

  constructor(f: Flags) {
    this.#f = f;
  }

  row(s: TcpSession): string {
    const f = this.#f;
    let line = '';
    if (f.time) line += f.csv ? `${hhmmss()},` : `${ljust(hhmmss(), 8)} `;
    if (f.timestamp) {
      const us = s.timestamp / 1000n;
      this.#firstUs ??= us;
      const t = fmtFixed(Number(us - this.#firstUs) / 1e6, 6);
      line += f.csv ? `${t},` : `${ljust(t, 9)} `;
    }
    const pid = String(s.pid);
    const comm = s.owner === 'unknown' ? '?' : s.comm;
    const tx = String(kb(s.txBytes));
    const rx = String(kb(s.rxBytes));
    if (f.csv) {
      return `${line}${pid},${csvField(escapeControl(comm))},${s.family},${s.laddr},${s.lport},${s.raddr},${s.rport},${tx},${rx},${ms(s.durationNs)}\n`;
    }
    if (f.wide) {
      return `${line}${ljust(pid, 5)} ${fitComm(comm, 16)} ${ljust(String(s.family), 2)} ${ljust(s.laddr, 26)} ${ljust(String(s.lport), 5)} ${ljust(s.raddr, 26)} ${ljust(String(s.rport), 5)} ${rjust(tx, 6)} ${rjust(rx, 6)} ${ms(s.durationNs)}\n`;
    }
    return `${line}${ljust(pid, 5)} ${fitComm(comm, 10)} ${ljust(s.laddr, 15)} ${ljust(String(s.lport), 5)} ${ljust(s.raddr, 15)} ${ljust(String(s.rport), 5)} ${rjust(tx, 5)} ${rjust(rx, 5)} ${ms(s.durationNs)}\n`;
  }
}

export function formatJson(s: TcpSession, startNs: bigint): string {
  return jsonLine({
    time: new Date().toISOString(),
    timestamp: Number(s.timestamp - startNs) / 1e9,
    pid: s.pid,
    comm: s.comm,
    owner: s.owner,
    active: s.active,
    ip: s.family,
    laddr: s.laddr,
    lport: s.lport,
    raddr: s.raddr,
    rport: s.rport,
    tx_bytes: s.txBytes,
    rx_bytes: s.rxBytes,
    ms: s.durationNs / 1e6,
  });
}
