// @ebpf/tcplife: TCP session lifespans, one typed event per closed session.
//
//   import { tcplife } from '@ebpf/tcplife';
//   const trace = tcplife({ localPorts: [443] });
//   for await (const s of trace) console.log(s.comm, s.raddr, s.rport, s.txBytes, s.durationNs);
//   trace.close();
import { Tracer, UsageError, type BpfObject } from '@ebpf/core';
import { type ContainerOptions, custom, defineTcpTool, option, pid, portOptions, tcpDecoder, tcpOwner } from '@ebpf/core/kit';
import type { TcpOwnerSource } from '@ebpf/core/inet';
import { EVENT_SIZE, decodeEvent, F_ACTIVE, type Config } from './tcplife.gen.js';

export interface TcplifeOptions extends Omit<ContainerOptions, 'mntnsmap'> {
  /** Only sessions owned by this process (in-kernel). */
  pid?: number;
  /** Only sessions whose local port is one of these (in-kernel). */
  localPorts?: number[];
  /** Only sessions whose remote port is one of these (in-kernel). */
  remotePorts?: number[];
  /** Only IPv4 (4) or IPv6 (6) sessions (in-kernel). Default: both. */
  family?: 4 | 6;
  /** Ring buffer size in bytes, a power of two (default 1 MiB: ~10 000 sessions). */
  ringBytes?: number;
}

/**
 * How the owner (pid, comm) of a session was found: `task`, the last task
 * that changed the socket's state in a system call (connect, shutdown,
 * close); `accept`, the process that accept()ed it (a server session that
 * changed no state in a system call since: reset by the peer); `listener`,
 * the process that listen()ed on the port (never accepted in a traced
 * system call: reset while queued); `unknown` (pid 0, comm ''): a server
 * socket whose listener predates the trace, not accepted while traced.
 */
export type OwnerSource = TcpOwnerSource;

export interface TcpSession {
  /** CLOCK_MONOTONIC nanoseconds when the session closed (same clock as process.hrtime.bigint()). */
  timestamp: bigint;
  /** The owning process (see `owner`); 0 when unknown. */
  pid: number;
  comm: string;
  owner: OwnerSource;
  /** true for the side that connect()ed, false for the side that accept()ed. */
  active: boolean;
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  /** Payload bytes sent and acknowledged by the peer. */
  txBytes: number;
  /** Payload bytes received. */
  rxBytes: number;
  /** From the first state change (SYN_SENT or SYN_RECV) to CLOSE. */
  durationNs: number;
}

/** Sessions not followed because the in-kernel table of open sessions (65536) was full. */
export const untracked = (obj: BpfObject): number => Number(obj.readGlobalInt('sessions_untracked'));

/** A Tracer that also reports sessions it could not follow (its session table was full). */
export class TcplifeTracer extends Tracer<TcpSession> {
  #untrackedAtClose = 0;

  /** Sessions not reported because the in-kernel table of open sessions (65536) was full. */
  untracked(): number {
    return this.closed ? this.#untrackedAtClose : untracked(this.object);
  }

  override close(): void {
    try {
      if (!this.closed) this.#untrackedAtClose = this.untracked(); // readable until the object closes
    } catch {
      // the object is already gone: nothing more to learn
    }
    super.close();
  }
}

/** Turns one ring record into a TcpSession. */
export const decodeSession = tcpDecoder(
  decodeEvent,
  (raw, flow): TcpSession => ({
    timestamp: raw.ts,
    ...tcpOwner(raw),
    active: (raw.flags & F_ACTIVE) !== 0,
    ...flow,
    txBytes: Number(raw.tx_bytes),
    rxBytes: Number(raw.rx_bytes),
    durationNs: Number(raw.span_ns),
  }),
);

/** From the API, any 32-bit PID (the old check: "pid must be a positive integer"); on the command line, a live process. */
const ownerPid = custom(pid.parse, (v, key) => {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 0xffffffff) throw new UsageError(`${key} must be a positive integer, got ${v}`);
  return v as number;
});

// The options: -p and -L/-D here; `family` (the CLI's -4 and -6, cli.ts) and
// the container filters come with every TCP tool (kit: defineTcpTool).
export const tool = defineTcpTool({
  name: 'tcplife',
  object: new URL('./tcplife.bpf.o', import.meta.url),
  options: { pid: option('-p, --pid <PID>', 'trace this PID only', ownerPid), ...portOptions },
  knobs: (o) => ({ targ_pid: o.pid ?? 0 } satisfies Config),
  // ~10 000 sessions; the default ring holds a storm's worth of records on every CPU (kit: defaultRingBytes).
  ring: { defaultBytes: 1024 * 1024, recordBytes: EVENT_SIZE },
  decode: decodeSession,
});

/** tcplife's options: the API's keys, with their CLI flags. */
export const options = tool.def.options;

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function tcplife(opts: TcplifeOptions = {}): TcplifeTracer {
  return tool.start(opts, (loaded) => new TcplifeTracer(loaded));
}

export type { Tracer } from '@ebpf/core';
