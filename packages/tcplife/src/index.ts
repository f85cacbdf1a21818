// @ebpf/tcplife: TCP session lifespans, one typed event per closed session.
//
//   import { tcplife } from '@ebpf/tcplife';
//   const trace = tcplife({ localPorts: [443] });
//   for await (const s of trace) console.log(s.comm, s.raddr, s.rport, s.txBytes, s.durationNs);
//   trace.close();
import { existsSync } from 'node:fs';
import { ObjectSpec, Tracer, UsageError, preflight, type TracerOptions } from '@ebpf/core';
import { AF_INET, AF_INET6, formatIPv4, formatIPv6 } from '@ebpf/core/inet';
import { decodeEvent, F_ACTIVE, F_OWNER_LISTENER, F_OWNER_TASK, type Config } from './tcplife.gen.js';

export interface TcplifeOptions {
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

/** How the owner (pid, comm) of a session was found. */
export type OwnerSource =
  /** the last task that changed the socket's state in a system call (connect, shutdown, close) */
  | 'task'
  /** never seen in a system call (e.g. reset by the peer): the process that listen()ed on the port */
  | 'listener'
  /** not known (pid 0, comm ''): a server socket whose listener predates the trace */
  | 'unknown';

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

/** A Tracer that also reports sessions it could not follow (its session table was full). */
export class TcplifeTracer extends Tracer<TcpSession> {
  #untrackedAtClose = 0;

  constructor(opts: TracerOptions<TcpSession>) {
    super(opts);
  }

  /** Sessions not reported because the in-kernel table of open sessions (65536) was full. */
  untracked(): number {
    return this.closed ? this.#untrackedAtClose : Number(this.object.readGlobalInt('sessions_untracked'));
  }

  override close(): void {
    if (!this.closed) {
      try {
        this.#untrackedAtClose = this.untracked();
      } catch {
        // the object is already gone: nothing more to learn
      }
    }
    super.close();
  }
}

/** Where the compiled BPF object lives: next to this file once built; in
 * ../dist when this module runs from source (src/index.ts under vitest). */
export const objectPath = ((): URL => {
  const built = new URL('./tcplife.bpf.o', import.meta.url);
  const fromSource = new URL('../dist/tcplife.bpf.o', import.meta.url);
  return existsSync(built) || !existsSync(fromSource) ? built : fromSource;
})();

/** The tracepoints tcplife attaches to. */
export const tracepoints = ['sock:inet_sock_set_state'];

/** Turns one ring record into a TcpSession. */
export function decodeSession(view: DataView, offset: number, length: number): TcpSession {
  const raw = decodeEvent(view, offset, length);
  const v6 = raw.family === AF_INET6;
  return {
    timestamp: raw.ts,
    pid: raw.pid,
    comm: raw.comm,
    owner: raw.flags & F_OWNER_TASK ? 'task' : raw.flags & F_OWNER_LISTENER ? 'listener' : 'unknown',
    active: (raw.flags & F_ACTIVE) !== 0,
    family: v6 ? 6 : 4,
    laddr: v6 ? formatIPv6(raw.laddr) : formatIPv4(raw.laddr),
    lport: raw.lport,
    raddr: v6 ? formatIPv6(raw.raddr) : formatIPv4(raw.raddr),
    rport: raw.rport,
    txBytes: Number(raw.tx_bytes),
    rxBytes: Number(raw.rx_bytes),
    durationNs: Number(raw.span_ns),
  };
}

function checkPorts(what: string, ports: number[] | undefined): void {
  if (ports === undefined) return;
  if (!Array.isArray(ports) || ports.length === 0) throw new UsageError(`${what} must be a non-empty array of ports`);
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`${what}: ${p} is not a port (1 to 65535)`);
  }
}

/** The 8 KiB bitmap the BPF program tests ports against (bit p = port p). */
function portBits(ports: number[]): Uint8Array {
  const bits = new Uint8Array(8192);
  for (const p of ports) bits[p >> 3]! |= 1 << (p & 7);
  return bits;
}

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function tcplife(opts: TcplifeOptions = {}): TcplifeTracer {
  if (opts.pid !== undefined && (!Number.isInteger(opts.pid) || opts.pid < 1 || opts.pid > 0xffffffff)) {
    throw new UsageError(`pid must be a positive integer, got ${opts.pid}`);
  }
  checkPorts('localPorts', opts.localPorts);
  checkPorts('remotePorts', opts.remotePorts);
  if (opts.family !== undefined && opts.family !== 4 && opts.family !== 6) {
    throw new UsageError(`family must be 4 or 6, got ${opts.family}`);
  }
  const ring = opts.ringBytes ?? 1024 * 1024;
  if (!Number.isInteger(ring) || ring < 4096 || (ring & (ring - 1)) !== 0) {
    throw new UsageError(`ringBytes must be a power of two of at least 4096, got ${ring}`);
  }
  preflight({ tracepoints });

  const spec = ObjectSpec.fromFile(objectPath, 'tcplife');
  try {
    const config: Config = {
      targ_pid: opts.pid ?? 0,
      targ_family: opts.family === 4 ? AF_INET : opts.family === 6 ? AF_INET6 : 0,
      filter_lport: opts.localPorts !== undefined,
      filter_rport: opts.remotePorts !== undefined,
      lport_bits: opts.localPorts ? portBits(opts.localPorts) : undefined,
      rport_bits: opts.remotePorts ? portBits(opts.remotePorts) : undefined,
    };
    spec.setConfig({ ...config });
    spec.setMaxEntries('events', ring);
  } catch (err) {
    spec.close();
    throw err;
  }
  const obj = spec.load();
  try {
    obj.attach();
    return new TcplifeTracer({ object: obj, rings: ['events'], decode: decodeSession });
  } catch (err) {
    obj.close();
    throw err;
  }
}

export type { Tracer } from '@ebpf/core';
