// @ebpf/tcpconnlat: the latency of each active TCP connect (SYN sent to
// ESTABLISHED), with the process that called connect().
//
//   import { tcpconnlat } from '@ebpf/tcpconnlat';
//   const trace = tcpconnlat({ minMs: 1 });
//   for await (const c of trace) console.log(c.pid, c.comm, c.daddr, c.dport, c.latNs / 1e6);
//   trace.close();
import type { Tracer } from '@ebpf/core';
import { UsageError } from '@ebpf/core';
import { type ContainerOptions, apiOption, custom, defineTcpTool, option, pid, tcpDecoder } from '@ebpf/core/kit';
import { EVENT_SIZE, decodeEvent, type Config } from './tcpconnlat.gen.js';

export interface TcpconnlatOptions extends Omit<ContainerOptions, 'mntnsmap'> {
  /** Only connects by this process (in-kernel). */
  pid?: number;
  /** Only connects that took at least this many milliseconds (in-kernel; fractions work, to the µs as BCC). */
  minMs?: number;
  /** Only IPv4 (4) or IPv6 (6) connects (in-kernel). Default: both. */
  family?: 4 | 6;
  /** Ring buffer size in bytes, a power of two (default 256 KiB: ~2 900 connects). */
  ringBytes?: number;
}

export interface TcpConnect {
  /** CLOCK_MONOTONIC ns when the connection was established (process.hrtime.bigint()'s clock). */
  timestamp: bigint;
  /** The process that called connect(), and its comm then. */
  pid: number;
  comm: string;
  family: 4 | 6;
  saddr: string;
  lport: number;
  daddr: string;
  dport: number;
  /** Nanoseconds from SYN_SENT (in connect()) to the answer: ESTABLISHED (the SYN-ACK), or CLOSE after an RST. */
  latNs: number;
  /** The answer was an RST: the connect failed (ECONNREFUSED). */
  refused: boolean;
}

/** Turns one ring record into a TcpConnect. */
export const decodeConnect = tcpDecoder(
  decodeEvent,
  // BCC's names: SADDR, DADDR, DPORT for the local and remote ends.
  (raw, { family, laddr: saddr, lport, raddr: daddr, rport: dport }): TcpConnect => ({
    timestamp: raw.ts,
    pid: raw.pid,
    comm: raw.comm,
    family,
    saddr,
    lport,
    daddr,
    dport,
    latNs: Number(raw.lat_ns),
    refused: raw.refused !== 0,
  }),
);

const checkMs = (v: unknown, key: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new UsageError(`${key} must be a number of milliseconds, 0 or more, got ${String(v)}`);
  return v;
};
/** Milliseconds, 0 or more, fractions allowed (BCC's positive_float). */
export const millis = custom(
  (text, flag) => {
    if (!/^\s*(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text)) throw new UsageError(`invalid ${flag} value '${text}': expected milliseconds (a number, 0 or more)`);
    return checkMs(Number(text), flag);
  },
  checkMs,
);

// The options: -p and min_ms (the CLI's positional sets it) here; `family`
// (the CLI's -4 and -6, cli.ts) and the container filters come with every
// TCP tool, their knobs too (kit: defineTcpTool).
export const tool = defineTcpTool({
  name: 'tcpconnlat',
  object: new URL('./tcpconnlat.bpf.o', import.meta.url),
  options: {
    pid: option('-p, --pid <PID>', 'trace this PID only', pid),
    minMs: apiOption('minimum duration to trace (ms)', millis),
  },
  knobs: (o) => ({
    targ_tgid: o.pid ?? 0,
    // BCC rounds the minimum down to whole µs: int(ms * 1000).
    min_ns: BigInt(Math.floor((o.minMs ?? 0) * 1000)) * 1000n,
  } satisfies Config),
  // ~2 900 connects (80-byte records, 8-byte ring headers); the default ring
  // holds a storm's worth of records on every CPU (kit: defaultRingBytes).
  ring: { defaultBytes: 256 * 1024, recordBytes: EVENT_SIZE },
  decode: decodeConnect,
});

/** tcpconnlat's options: the API's keys, with their CLI flags. */
export const options = tool.def.options;

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function tcpconnlat(opts: TcpconnlatOptions = {}): Tracer<TcpConnect> {
  return tool.start(opts);
}

export type { Tracer } from '@ebpf/core';
