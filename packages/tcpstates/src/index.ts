// @ebpf/tcpstates: every TCP state change, with the time spent in the state
// it leaves and the process that owns the socket.
//
//   import { tcpstates } from '@ebpf/tcpstates';
//   const trace = tcpstates({ localPorts: [443] });
//   for await (const c of trace) console.log(c.pid, c.comm, c.oldState, '->', c.newState, c.spanNs);
//   trace.close();
import type { Tracer } from '@ebpf/core';
import { type ContainerOptions, defineTcpTool, portOptions, tcpDecoder, tcpOwner } from '@ebpf/core/kit';
import { tcpStateName, type TcpOwnerSource } from '@ebpf/core/inet';
import { EVENT_SIZE, decodeEvent, F_SPAN } from './tcpstates.gen.js';

export interface TcpstatesOptions extends Omit<ContainerOptions, 'mntnsmap'> {
  /** Only sockets whose local port is one of these (in-kernel). */
  localPorts?: number[];
  /** Only sockets whose remote port is one of these (in-kernel). */
  remotePorts?: number[];
  /** Only IPv4 (4) or IPv6 (6) sockets (in-kernel). Default: both. */
  family?: 4 | 6;
  /** Ring buffer size in bytes, a power of two (default 1 MiB: ~10 000 changes). */
  ringBytes?: number;
}

export interface TcpStateChange {
  /** CLOCK_MONOTONIC nanoseconds of the change (process.hrtime.bigint()'s clock). */
  timestamp: bigint;
  /** The socket's kernel address: the same for every change of one socket. */
  skaddr: bigint;
  /** The socket's owner (see `owner`); 0 when not known. */
  pid: number;
  comm: string;
  /**
   * How the owner was found: `task`, the last task that changed the socket's
   * state in a system call; `accept`, the process that accept()ed it;
   * `listener`, the process that listen()ed on its port; `unknown`.
   */
  owner: TcpOwnerSource;
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  /** The state left and the state entered, as BCC names them ('SYN_SENT', 'ESTABLISHED', ...). */
  oldState: string;
  newState: string;
  /** Nanoseconds spent in oldState; undefined when the socket was not seen entering it (its first change seen). */
  spanNs: number | undefined;
}

/** Turns one ring record into a TcpStateChange. */
export const decodeChange = tcpDecoder(
  decodeEvent,
  (raw, flow): TcpStateChange => ({
    timestamp: raw.ts,
    skaddr: raw.skaddr,
    ...tcpOwner(raw),
    ...flow,
    oldState: tcpStateName(raw.oldstate),
    newState: tcpStateName(raw.newstate),
    spanNs: raw.flags & F_SPAN ? Number(raw.span_ns) : undefined,
  }),
);

// The options: -L/-D; `family` (the CLI's -4 and -6, cli.ts) and the
// container filters come with every TCP tool, their knobs too (kit: defineTcpTool).
export const tool = defineTcpTool({
  name: 'tcpstates',
  object: new URL('./tcpstates.bpf.o', import.meta.url),
  options: portOptions,
  // ~10 000 changes (88-byte records, 8-byte ring headers); the default ring
  // holds a storm's worth of records on every CPU (kit: defaultRingBytes).
  ring: { defaultBytes: 1024 * 1024, recordBytes: EVENT_SIZE },
  decode: decodeChange,
});

/** tcpstates' options: the API's keys, with their CLI flags. */
export const options = tool.def.options;

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function tcpstates(opts: TcpstatesOptions = {}): Tracer<TcpStateChange> {
  return tool.start(opts);
}

export type { Tracer } from '@ebpf/core';
