// @ebpf/tcpretrans: every TCP retransmit, with its flow and the socket's state.
//
//   import { tcpretrans } from '@ebpf/tcpretrans';
//   const trace = tcpretrans();
//   for await (const r of trace) console.log(r.laddr, r.lport, '->', r.raddr, r.rport, r.state);
//   trace.close();
import type { Tracer } from '@ebpf/core';
import { type ContainerOptions, defineTcpTool, tcpDecoder } from '@ebpf/core/kit';
import { tcpStateName } from '@ebpf/core/inet';
import { EVENT_SIZE, decodeEvent, TLP } from './tcpretrans.gen.js';

export interface TcpretransOptions extends Omit<ContainerOptions, 'mntnsmap'> {
  /** Only IPv4 (4) or IPv6 (6) sockets (in-kernel). Default: both. */
  family?: 4 | 6;
  /** Ring buffer size in bytes, a power of two (default 256 KiB: ~3 600 retransmits). */
  ringBytes?: number;
}

export interface Retransmit {
  /** CLOCK_MONOTONIC ns of the retransmit (process.hrtime.bigint()'s clock). */
  timestamp: bigint;
  /** The socket's kernel address. */
  skaddr: bigint;
  /** The process on the CPU (BCC's PID): usually 0, a timer or a packet in softirq context; not the socket's owner. */
  pid: number;
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  /** The socket's state, as BCC names it ('ESTABLISHED', 'SYN_SENT', ...). */
  state: string;
  /** BCC's T column: 'R' a retransmit, 'L' a tail loss probe. */
  type: 'R' | 'L';
}

/** Turns one ring record into a Retransmit. */
export const decodeRetransmit = tcpDecoder(
  decodeEvent,
  (raw, flow): Retransmit => ({
    timestamp: raw.ts,
    skaddr: raw.skaddr,
    pid: raw.pid,
    ...flow,
    state: tcpStateName(raw.state),
    type: raw.type === TLP ? 'L' : 'R',
  }),
);

// No options of its own: `family` (the CLI's -4 and -6) and the container
// filters come with every TCP tool, their knobs too (kit: defineTcpTool).
export const tool = defineTcpTool({
  name: 'tcpretrans',
  object: new URL('./tcpretrans.bpf.o', import.meta.url),
  options: {},
  // ~3 600 retransmits (64-byte records, 8-byte ring headers); the default
  // ring holds a storm's worth of records on every CPU (kit: defaultRingBytes).
  ring: { defaultBytes: 256 * 1024, recordBytes: EVENT_SIZE },
  decode: decodeRetransmit,
});

/** tcpretrans' options: the API's keys. */
export const options = tool.def.options;

/**
 * Starts tracing. Throws a PreflightError when the machine cannot (not root,
 * no BTF, no tracefs), a UsageError for bad options.
 */
export function tcpretrans(opts: TcpretransOptions = {}): Tracer<Retransmit> {
  return tool.start(opts);
}

/** One flow's retransmits (BCC's -c). */
export interface FlowCount {
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  retransmits: number;
}

/** Counts retransmits per flow (local and remote address and port), as BCC's -c. */
export class FlowCounter {
  readonly #flows = new Map<string, FlowCount>();

  add(r: Retransmit): void {
    const key = `${r.family} ${r.laddr} ${r.lport} ${r.raddr} ${r.rport}`;
    const f = this.#flows.get(key);
    if (f) f.retransmits++;
    else this.#flows.set(key, { family: r.family, laddr: r.laddr, lport: r.lport, raddr: r.raddr, rport: r.rport, retransmits: 1 });
  }

  /** The flows in BCC's order: IPv4 then IPv6, each by count, fewest first. */
  flows(): FlowCount[] {
    const all = [...this.#flows.values()];
    const by = (v: 4 | 6) => all.filter((f) => f.family === v).sort((a, b) => a.retransmits - b.retransmits);
    return [...by(4), ...by(6)];
  }
}

export type { Tracer } from '@ebpf/core';
