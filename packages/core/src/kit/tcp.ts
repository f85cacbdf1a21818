// What BCC's TCP tools (tcplife, tcpstates, tcpconnlat, tcpretrans) share on
// the command line and in their knobs: -4/-6 (the API's `family`), -L/-D port
// lists (in the kernel: bpf/include/ebpf/port_filter.h), and the display
// flags tcplife and tcpstates spell alike. Then, what they share beyond
// flags: defineTcpTool() (the family and socket-container filters every TCP
// tool takes, wired to bpf/include/ebpf/tcp.h's knob), tcpFlow() (a record's
// flow as the API's fields) and TcpColumns (the PID ... RPORT columns that
// tcplife and tcpstates print alike).
import { csvField, escapeControl, fitComm, hhmmss, pad } from '../format/index.js';
import type { RowBuffer } from '../format/rowbuffer.js';
import { addressFamily, AF_INET6, formatIPv4, formatIPv6, portBits, TCP_OWNER, tcpOwnerSource, type TcpOwnerSource } from '../kernel/inet.js';
import type { BatchClock } from './cli.js';
import { socketContainerOptions } from './container.js';
import { defineEventTool, type EventTool, type EventToolDef } from './event.js';
import { apiOption, ipFamily, option, ports, type OptionDefs } from './options.js';
import type { RingDef } from './program.js';

const display = { cliOnly: true } as const;

/** The API's `family` (4 or 6); the CLIs set it from -4 and -6 (familyFlags, familyOf). */
export const familyOption = apiOption('trace this address family only', ipFamily);

/** BCC's -4 and -6, which conflict. */
export const familyFlags = {
  ipv4: option('-4, --ipv4', 'trace IPv4 family only', undefined, { cliOnly: true, conflicts: ['ipv6'] }),
  ipv6: option('-6, --ipv6', 'trace IPv6 family only', undefined, { cliOnly: true, conflicts: ['ipv4'] }),
};

/** The `family` -4 or -6 asks for (undefined: both). */
export const familyOf = (f: { ipv4?: boolean; ipv6?: boolean }): 4 | 6 | undefined => (f.ipv4 ? 4 : f.ipv6 ? 6 : undefined);

/** BCC's -L LPORTS and -D RPORTS, as the API's localPorts and remotePorts. */
export const portOptions = {
  localPorts: option('-L, --localport <LPORTS>', 'comma-separated list of local ports to trace.', ports),
  remotePorts: option('-D, --remoteport <RPORTS>', 'comma-separated list of remote ports to trace.', ports),
};

/** The knobs of the family and port filters: targ_family and ebpf/port_filter.h's. */
export function tcpFilterKnobs(o: { family?: 4 | 6; localPorts?: number[]; remotePorts?: number[] }) {
  return {
    targ_family: addressFamily(o.family),
    filter_lport: o.localPorts !== undefined,
    filter_rport: o.remotePorts !== undefined,
    lport_bits: portBits(o.localPorts),
    rport_bits: portBits(o.remotePorts),
  };
}

/**
 * The example lines (in --help) of -L and -D, as BCC's tcplife and tcpstates
 * give them: `tool -L 80`, `-L 80,81`, `-D 80`, each comment two spaces
 * after the longest.
 */
export function portExamples(tool: string): string {
  const lines = [['-L 80', 'only trace local port 80'], ['-L 80,81', 'only trace local ports 80 and 81'], ['-D 80', 'only trace remote port 80']];
  const width = `${tool} -L 80,81`.length + 2;
  return lines.map(([args, what]) => `    ${`${tool} ${args}`.padEnd(width)}# ${what}`).join('\n');
}

/** tcplife's and tcpstates' display flags: -T -t -w -s. */
export const tcpDisplayFlags = {
  time: option('-T, --time', 'include time column on output (HH:MM:SS)', undefined, display),
  timestamp: option('-t, --timestamp', 'include timestamp on output (seconds)', undefined, display),
  wide: option('-w, --wide', 'wide column output (fits IPv6 addresses)', undefined, display),
  csv: option('-s, --csv', 'comma separated values output', undefined, display),
};

/** What every TCP tool's API takes besides its own options: `family` and the socket's container filters. */
export const tcpSocketOptions = { family: familyOption, ...socketContainerOptions };

/** Their CLI flags, in BCC's order, last in every TCP tool's list: -4, -6, --cgroup, --cgroupmap. */
export const tcpSocketFlags = { ...familyFlags, ...socketContainerOptions };

/** The records per second per CPU a TCP storm makes (the default rings hold that much). */
export const TCP_STORM_RATE = 10_000;

export interface TcpToolDef<D extends OptionDefs, E> extends Omit<EventToolDef<D & typeof tcpSocketOptions, E>, 'options' | 'ring'> {
  /** The tool's own options (with portOptions for -L/-D); tcpSocketOptions follow them. */
  options: D;
  /** The ring: its default size and record size (the rate is TCP_STORM_RATE). */
  ring: Omit<RingDef, 'ratePerCpu'>;
}

/**
 * An event tool built on bpf/include/ebpf/tcp.h: its options are the tool's
 * own, then `family` and the socket container filters; its knobs set
 * targ_family from `family` (and port_filter.h's from -L/-D when the tool
 * takes portOptions) besides its own.
 */
export function defineTcpTool<D extends OptionDefs, E>(def: TcpToolDef<D, E>): EventTool<D & typeof tcpSocketOptions, E> {
  const options = { ...def.options, ...tcpSocketOptions } as D & typeof tcpSocketOptions;
  const filtersPorts = 'localPorts' in def.options;
  type Filters = Parameters<typeof tcpFilterKnobs>[0];
  return defineEventTool<D & typeof tcpSocketOptions, E>({
    ...def,
    options,
    knobs: (o, target) => ({
      ...(filtersPorts ? tcpFilterKnobs(o as Filters) : { targ_family: addressFamily((o as Filters).family) }),
      ...def.knobs?.(o, target),
    }),
    ring: { ...def.ring, ratePerCpu: TCP_STORM_RATE },
  });
}

/** A record's flow as ebpf/tcp.h's TCP_FLOW_* macros fill it (the generated decoder's fields). */
export interface RawTcpFlow {
  family: number;
  laddr: Uint8Array;
  lport: number;
  raddr: Uint8Array;
  rport: number;
}

/** A flow as the TCP tools' APIs give it. */
export interface TcpFlow {
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
}

/** A record's flow as the API's fields, in this order (their JSON order): family, laddr, lport, raddr, rport. */
export function tcpFlow(raw: RawTcpFlow): TcpFlow {
  const v6 = raw.family === AF_INET6;
  const addr = v6 ? formatIPv6 : formatIPv4;
  return { family: v6 ? 6 : 4, laddr: addr(raw.laddr), lport: raw.lport, raddr: addr(raw.raddr), rport: raw.rport };
}

/**
 * A TCP tool's decoder: its generated decoder (the .gen.ts's decodeEvent),
 * then `build`, which makes the API's event from the raw record and its
 * flow, decoded once here (tcpFlow).
 */
export function tcpDecoder<R extends RawTcpFlow, E>(decodeRaw: (view: DataView, offset: number, length: number) => R, build: (raw: R, flow: TcpFlow) => E): (view: DataView, offset: number, length: number) => E {
  return (view, offset, length) => {
    const raw = decodeRaw(view, offset, length);
    return build(raw, tcpFlow(raw));
  };
}

/** A socket's owner as the API gives it, from a record that carries bpf/include/ebpf/tcp_owner.h's: pid, comm, owner (how it was found). */
export function tcpOwner(raw: { pid: number; comm: string; owner: number }): { pid: number; comm: string; owner: TcpOwnerSource } {
  return { pid: raw.pid, comm: raw.comm, owner: tcpOwnerSource(raw.owner) };
}

/** The display flags TcpColumns reads. */
export interface TcpDisplayFlags {
  time?: boolean;
  timestamp?: boolean;
  wide?: boolean;
  csv?: boolean;
}

/** Where a record's fields are (the generated EVENT_OFFSETS), and the width of its `owner` field. */
export interface TcpRecordOffsets {
  ts: number;
  pid: number;
  owner: number;
  comm: number;
  family: number;
  laddr: number;
  lport: number;
  raddr: number;
  rport: number;
}

/** Column widths of a layout (0: unpadded; ip -1: no IP column). */
interface Layout {
  sep: string;
  csv: boolean;
  comm: number;
  ip: number;
  addr: number;
  /** PID, LPORT, RPORT; -T's and -t's columns */
  num: number;
  time: number;
  secs: number;
}
const DEFAULT: Layout = { sep: ' ', csv: false, comm: 10, ip: -1, addr: 15, num: 5, time: 8, secs: 9 };
const WIDE: Layout = { sep: ' ', csv: false, comm: 16, ip: 2, addr: 26, num: 5, time: 8, secs: 9 };
const CSV: Layout = { sep: ',', csv: true, comm: 0, ip: 0, addr: 0, num: 0, time: 0, secs: 0 };

/** Seconds from µs, six decimals (exact: integer arithmetic). */
const secs = (us: number) => `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;

/**
 * The columns BCC's tcplife and tcpstates print alike, in both their layouts
 * (default, -w wide: an IP column and wider addresses; -s CSV: -s wins over
 * -w) and both paths (text from a decoded event; bytes straight from the
 * record): the -T and -t prefix, counted from the first row; then
 * PID COMM [IP] LADDR LPORT RADDR RPORT. COMM is '?' when the owner is not
 * known, cut to its width except in CSV. An address longer than its column
 * is printed whole and pushes the rest of the line right, as BCC does.
 */
export class TcpColumns {
  readonly L: Layout;
  readonly #f: TcpDisplayFlags;
  readonly #clock: BatchClock | undefined;
  #firstUs: number | undefined;
  #view: DataView | undefined;
  #bytes: Uint8Array = new Uint8Array(0);
  // The last IPv4 addresses written, as text (a storm repeats them).
  #v4 = [-1, -1];
  #v4Text = ['', ''];

  constructor(f: TcpDisplayFlags, clock?: BatchClock) {
    this.#f = f;
    this.L = f.csv ? CSV : f.wide ? WIDE : DEFAULT;
    this.#clock = clock;
  }

  /** The header's -T and -t columns, with their separators. */
  headerPrefix(): string {
    const L = this.L;
    return (this.#f.time ? pad('TIME', L.time) + L.sep : '') + (this.#f.timestamp ? pad('TIME(s)', L.secs) + L.sep : '');
  }

  /** A row's -T and -t columns, with their separators (-t: seconds since the first row). */
  prefix(timestamp: bigint): string {
    const L = this.L;
    let p = '';
    if (this.#f.time) p += pad(this.#clock ? this.#clock.hms() : hhmmss(), L.time) + L.sep;
    if (this.#f.timestamp) {
      const us = Number(timestamp / 1000n);
      this.#firstUs ??= us;
      p += pad(secs(us - this.#firstUs), L.secs) + L.sep;
    }
    return p;
  }

  /** PID COMM [IP] LADDR LPORT RADDR RPORT as text (no separator after): the header's names, or a row's values. */
  flow(pid: string, comm: string, ip: string, laddr: string, lport: string, raddr: string, rport: string, header = false): string {
    const L = this.L;
    const s = L.sep;
    const name = L.csv ? (header ? comm : csvField(escapeControl(comm))) : fitComm(comm, L.comm);
    const ipCol = L.ip < 0 ? '' : pad(ip, L.ip) + s;
    return `${pad(pid, L.num)}${s}${name}${s}${ipCol}${pad(laddr, L.addr)}${s}${pad(lport, L.num)}${s}${pad(raddr, L.addr)}${s}${pad(rport, L.num)}`;
  }

  /** The COMM a row shows: '?' for an owner not known. */
  static comm(e: { owner: string; comm: string }): string {
    return e.owner === 'unknown' ? '?' : e.comm;
  }

  /**
   * The same columns written from the record at `o` (no separator after);
   * false (the slow path's business) for a comm that needs escaping or
   * quoting. `ownerBytes`: the width of the record's owner field (1 or 2).
   */
  fastFlow(view: DataView, o: number, at: TcpRecordOffsets, ownerBytes: 1 | 2, out: RowBuffer): boolean {
    const L = this.L;
    const sep = L.sep.charCodeAt(0);
    out.intLeft(view.getUint32(o + at.pid, true), L.num);
    out.byte(sep);
    const owner = ownerBytes === 1 ? view.getUint8(o + at.owner) : view.getUint16(o + at.owner, true);
    if (owner === TCP_OWNER.NONE) out.ascii('?', L.comm);
    else if (L.csv ? !out.csvCstring(view, o + at.comm, 16) : !out.cstring(view, o + at.comm, L.comm, L.comm)) return false;
    out.byte(sep);
    const v6 = view.getUint16(o + at.family, true) === AF_INET6;
    if (L.ip >= 0) {
      out.intLeft(v6 ? 6 : 4, L.ip);
      out.byte(sep);
    }
    this.#addr(view, o + at.laddr, v6, out, 0);
    out.byte(sep);
    out.intLeft(view.getUint16(o + at.lport, true), L.num);
    out.byte(sep);
    this.#addr(view, o + at.raddr, v6, out, 1);
    out.byte(sep);
    out.intLeft(view.getUint16(o + at.rport, true), L.num);
    return true;
  }

  /** An address at `at`, left-aligned in the layout's column. */
  #addr(view: DataView, at: number, v6: boolean, out: RowBuffer, slot: 0 | 1): void {
    if (v6) {
      if (view !== this.#view) {
        this.#view = view;
        this.#bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      }
      out.ascii(formatIPv6(this.#bytes, at), this.L.addr);
      return;
    }
    const u = view.getUint32(at, true);
    if (u !== this.#v4[slot]) {
      this.#v4[slot] = u;
      this.#v4Text[slot] = `${u & 255}.${(u >>> 8) & 255}.${(u >>> 16) & 255}.${u >>> 24}`;
    }
    out.ascii(this.#v4Text[slot]!, this.L.addr);
  }
}
