// @ebpf/biosnoop: every block I/O as a typed event, with the process that
// issued it and its latency.
//
//   import { biosnoop } from '@ebpf/biosnoop';
//   const trace = biosnoop({ disk: 'vda', queued: true });
//   for await (const io of trace) console.log(io.comm, io.pid, io.type, io.sector, io.bytes, io.latencyNs);
//   trace.close();
import { Tracer, decodeRequestFlags, diskOf, hasTracepoint, requestOpLetter, resolveWholeDisk, type BpfObject, type Disk } from '@ebpf/core';
import { containerOptions, type ContainerOptions, apiOption, defineEventTool, int, option, wholeDisk } from '@ebpf/core/kit';
import { EVENT_SIZE, PATTERN_RANDOM, PATTERN_SEQUENTIAL, decodeEvent, type Config } from './biosnoop.gen.js';

export interface BiosnoopOptions extends ContainerOptions {
  /** -Q: also measure the time each request waited in the OS before issue (queueNs). */
  queued?: boolean;
  /** -d: only this disk ("vda", "/dev/nvme0n1"). A partition is refused: requests belong to whole disks. */
  disk?: string;
  /** -P: say whether each I/O continues the previous one on its disk (pattern). */
  pattern?: boolean;
  /** -m: only I/O whose latency is at least this many milliseconds. */
  minLatencyMs?: number;
  /** Requests followed at once (default 10240); beyond that, I/Os are not reported (see untracked()). */
  maxInFlight?: number;
  /** Take the issuer at block_rq_insert/issue as on kernels before 6.5, even where block_io_start exists (for tests). */
  insertHook?: boolean;
  /** Ring buffer size in bytes, a power of two (default 1 MiB). */
  ringBytes?: number;
}

export interface BlockIo {
  /** CLOCK_MONOTONIC nanoseconds at completion (process.hrtime.bigint()'s clock). */
  timestamp: bigint;
  /** The process that issued the I/O (made the request); undefined for requests the kernel made itself. */
  pid?: number;
  /** Its command name (the submitting thread's). */
  comm?: string;
  disk: Disk;
  /** The operation as one letter (BCC's T column): R, W; F flush, D discard, N other. */
  type: string;
  /** The operation and its flags by name, as biolatency -F names them: op 'Write', flags ['Idle', 'Sync']. */
  op: string;
  /** Shared by the events with the same flags: frozen. */
  flags: readonly string[];
  /** First 512-byte sector on the disk. */
  sector: number;
  bytes: number;
  /** Issue to completion, in nanoseconds. */
  latencyNs: number;
  /** With `queued`: created (block_io_start) to issue, in nanoseconds; undefined when the creation was not seen. */
  queueNs?: number;
  /** With `pattern`: against the last I/O completed on the same disk ('unknown' for a disk's first). */
  pattern?: 'sequential' | 'random' | 'unknown';
}

/** biosnoop's options: the API's keys, with their CLI flags (BCC's, then libbpf-tools' -m). */
export const options = {
  queued: option('-Q, --queue', 'include OS queued time', undefined, { alias: '--queued' }),
  disk: option('-d, --disk <DISK>', 'trace this disk only', wholeDisk),
  pattern: option('-P, --pattern', 'display block I/O pattern (sequential or random)'),
  minLatencyMs: option('-m, --min <MIN>', 'min latency to trace, in ms', int(0, 1e9)),
  maxInFlight: apiOption('requests followed at once', int(1, 1 << 24)),
  insertHook: apiOption('the issuer from block_rq_insert/issue, as before 6.5'),
  ...containerOptions,
};

const PATTERNS = { [PATTERN_SEQUENTIAL]: 'sequential', [PATTERN_RANDOM]: 'random' } as const;

/** Decodes records into BlockIo events; disks and flag codes are named once each. */
export function decoder(o: BiosnoopOptions): (view: DataView, offset: number, length: number) => BlockIo {
  const disks = new Map<number, Disk>();
  const ops = new Map<number, Pick<BlockIo, 'type' | 'op' | 'flags'>>();
  return (view, offset, length) => {
    const r = decodeEvent(view, offset, length);
    let disk = disks.get(r.dev);
    if (!disk) disks.set(r.dev, (disk = diskOf(r.dev)));
    let op = ops.get(r.flags);
    if (!op) {
      const f = decodeRequestFlags(r.flags);
      ops.set(r.flags, (op = { type: requestOpLetter(r.flags), op: f.op, flags: Object.freeze(f.flags) }));
    }
    const io: BlockIo = {
      timestamp: r.ts,
      disk,
      type: op.type,
      op: op.op,
      flags: op.flags,
      sector: Number(r.sector),
      bytes: r.bytes,
      latencyNs: Number(r.lat_ns),
    };
    if (r.comm !== '' || r.pid !== 0) [io.pid, io.comm] = [r.pid, r.comm];
    if (o.queued && r.queue_known) io.queueNs = Number(r.queue_ns);
    if (o.pattern) io.pattern = PATTERNS[r.pattern as keyof typeof PATTERNS] ?? 'unknown';
    return io;
  };
}

/** I/Os not reported: more requests in flight than maxInFlight, or an entry a skipped hook left stale. */
export const untracked = (obj: BpfObject): number => Number(obj.readGlobalInt('reqs_full') + obj.readGlobalInt('reqs_stale'));

export const tool = defineEventTool({
  name: 'biosnoop',
  object: new URL('./biosnoop.bpf.o', import.meta.url),
  options,
  // block_io_start is 6.5+; before it the issuer comes from block_rq_insert (chosen in target()).
  optional: ['block_io_start', 'block_rq_insert'],
  target: (o) => {
    const fallback = !!o.insertHook || !hasTracepoint('block_io_start');
    return { fallback, dev: o.disk !== undefined ? resolveWholeDisk(o.disk) : 0 };
  },
  knobs: (o, t) =>
    ({
      targ_queued: !!o.queued,
      targ_pattern: !!o.pattern,
      filter_dev: o.disk !== undefined,
      targ_dev: t.dev,
      min_ns: BigInt(o.minLatencyMs ?? 0) * 1_000_000n,
      issuer_at_issue: t.fallback,
    }) satisfies Config,
  maps: (o) => ({ reqs: o.maxInFlight ?? 10240 }),
  // The default ring holds a storm's worth of records on every CPU (kit: defaultRingBytes).
  ring: { defaultBytes: 1024 * 1024, recordBytes: EVENT_SIZE },
  configure: (spec, _o, t) => {
    spec.setAutoload('block_io_start', !t.fallback);
    spec.setAutoload('block_rq_insert', t.fallback);
  },
  decode: decoder({}),
  decoder: (o) => decoder(o),
});

/** A Tracer that also counts the I/Os it could not follow. */
export class BiosnoopTracer extends Tracer<BlockIo> {
  #untrackedAtClose = 0;

  /** I/Os not reported: the in-kernel request table (maxInFlight) was full, or a skipped hook left an entry stale. */
  untracked(): number {
    return this.closed ? this.#untrackedAtClose : untracked(this.object);
  }

  override close(): void {
    if (!this.closed) this.#untrackedAtClose = untracked(this.object); // readable until the object closes
    super.close();
  }
}

/**
 * Starts tracing block I/O. Throws a UsageError for bad options (before
 * loading anything), a PreflightError when the machine cannot trace.
 */
export function biosnoop(opts: BiosnoopOptions = {}): BiosnoopTracer {
  return tool.start(opts, (loaded) => new BiosnoopTracer(loaded));
}

export type { Disk, Tracer } from '@ebpf/core';
