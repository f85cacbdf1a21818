// Ring buffer and perf buffer readers. The native side drains the kernel buffer
// on wake-ups and on a short timer and calls in once per batch; here each batch
// is split into records for a handler, with no copying: the handler gets a
// DataView over the batch and the record's offset and length.
//
// Memory: each reader has ONE batch buffer, allocated once by the native side
// and written over by every drain (no allocation per batch, nothing for the
// garbage collector to find late under a storm), and one DataView over it.
// So a RecordHandler's view and offset are valid only while the handler runs:
// to keep a record, decode it into values that own their data (strings,
// numbers, bigints, and copied bytes: '@ebpf/core/decode' bytes() copies) or
// copy its bytes. The Tracer's events are decoded that way, and stay intact.
import type { NativePerfReader, NativeReader } from '../native/binding.js';
import { EbpfError, UsageError } from '../errors.js';
import { native } from '../native/load.js';
import { nativeCode, nativeFailure } from '../native/errno.js';
import { track, untrack } from '../bpf/resources.js';

/** Batch size when none is given: the most bytes handed to JavaScript in one call. */
export const DEFAULT_BATCH_BYTES = 256 * 1024;
/** Drain interval when none is given, for records the kernel did not wake us for. */
export const DEFAULT_INTERVAL_MS = 20;

/**
 * Called for each record; `source` is the ring's index (ring buffers) or the
 * CPU (perf buffers). `view` and `offset` are valid only during the call: the
 * same DataView is reused for the next batches, whose records are written over
 * this one's. Keep values decoded from the record, not the view. (`view` stays
 * the same object from batch to batch, except after a record too large for the
 * batch buffer moved the reader to a larger one.) Calling the reader's flush()
 * or close() from a handler first delivers the rest of the current batch,
 * then the next ones: the record being handled is not valid after that call.
 */
export type RecordHandler = (view: DataView, offset: number, length: number, source: number) => void;

export interface RingBufferOptions {
  /** Largest batch handed to JavaScript in one call (default 256 KiB). */
  batchBytes?: number;
  /** How often to drain when the kernel has not woken us (default 20 ms). */
  intervalMs?: number;
  /** Called after the last record of each batch. */
  onBatchEnd?: () => void;
}

export interface PerfBufferOptions extends RingBufferOptions {
  /** Pages per CPU, a power of two (default 64). */
  pagesPerCpu?: number;
  /** Wake the reader once this many bytes wait (default: a quarter of the buffer; 0: every sample). */
  wakeupBytes?: number;
}

/** The batch options every native reader gets: defaults filled in, values checked. */
function batchOptions(name: string, opts: RingBufferOptions): { batchBytes: number; intervalMs: number } {
  const batchBytes = opts.batchBytes ?? DEFAULT_BATCH_BYTES;
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  if (!Number.isSafeInteger(batchBytes) || batchBytes < 1 || batchBytes > 1 << 30) {
    throw new UsageError(`${name}: batchBytes must be an integer from 1 to 1 GiB, got ${batchBytes}`);
  }
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1 || intervalMs > 1e9) {
    throw new UsageError(`${name}: intervalMs must be a positive integer, got ${intervalMs}`);
  }
  return { batchBytes, intervalMs };
}

abstract class Reader {
  readonly name: string;
  #native: NativeReader | undefined;
  #onRecord: RecordHandler;
  #onBatchEnd: (() => void) | undefined;
  #closeCallbacks: Array<() => void> = [];
  #records = 0;

  protected constructor(name: string, onRecord: RecordHandler, opts: RingBufferOptions) {
    this.name = name;
    this.#onRecord = onRecord;
    this.#onBatchEnd = opts.onBatchEnd;
  }

  protected open(what: string, make: (onBatch: (batch: Buffer, count: number, byteLength: number) => void) => NativeReader): void {
    try {
      this.#native = make((batch, count) => this.#onBatch(batch, count));
    } catch (err) {
      const e = nativeCode(err, nativeFailure(err).op === 'ring_buffer__add' ? 'cannot add ring buffer' : `cannot open ${what}`);
      throw new EbpfError(`${this.name}: ${e.message}`, e.code, { cause: err });
    }
    track(this);
  }

  protected get nativeReader(): NativeReader | undefined {
    return this.#native;
  }

  // The batch being delivered: the native reader's buffer and the one view
  // over it (made again only when the buffer changes), and a cursor, kept
  // here so that a flush() from inside a handler can finish this batch before
  // the next one is written over it.
  #buffer: Buffer | undefined;
  #view: DataView | undefined;
  #left = 0;
  #at = 0;

  #onBatch(batch: Buffer, count: number): void {
    if (batch !== this.#buffer) {
      this.#buffer = batch;
      this.#view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    }
    this.#left = count;
    this.#at = 0;
    try {
      this.#deliverRest();
    } finally {
      this.#left = 0;
    }
    this.#records += count;
    this.#onBatchEnd?.();
  }

  #deliverRest(): void {
    const view = this.#view!;
    const onRecord = this.#onRecord;
    while (this.#left > 0) {
      const off = this.#at;
      const len = view.getUint32(off, true);
      this.#at = off + ((8 + len + 7) & ~7);
      this.#left--;
      onRecord(view, off + 8, len, view.getUint32(off + 4, true));
    }
  }

  /** Records delivered so far. */
  get records(): number {
    return this.#records;
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  /** Stops reading: records wait in the kernel buffer (and drops are counted once it fills). */
  pause(): void {
    this.#native?.pause();
  }

  resume(): void {
    this.#native?.resume();
  }

  /**
   * Delivers everything waiting in the kernel buffer now, synchronously.
   * From inside a handler: the rest of the current batch first.
   */
  flush(): number {
    if (this.#left > 0) this.#deliverRest();
    return this.#native?.flush() ?? 0;
  }

  /** Records lost: dropped by the BPF side or by the kernel because the buffer was full. */
  abstract lost(): number;

  /** @internal */
  onClose(cb: () => void): void {
    this.#closeCallbacks.push(cb);
  }

  /** Delivers what is waiting, then stops. Idempotent. */
  close(): void {
    const n = this.#native;
    if (!n) return;
    try {
      this.flush();
    } finally {
      this.#native = undefined;
      n.close();
      untrack(this);
      for (const cb of this.#closeCallbacks.splice(0)) cb();
    }
  }
}

export class RingBuffer extends Reader {
  #drops: () => number;
  /** @internal use BpfObject.ringBuffer() */
  constructor(names: string[], fds: number[], onRecord: RecordHandler, opts: RingBufferOptions, drops: () => number) {
    super(names.join(','), onRecord, opts);
    this.#drops = drops;
    const batch = batchOptions(this.name, opts);
    const { RingReader } = native();
    this.open(fds.length > 1 ? 'ring buffers' : 'ring buffer', (cb) => new RingReader(fds, cb, batch));
  }

  /** Records the BPF programs could not reserve because the ring was full. */
  lost(): number {
    return this.#drops();
  }
}

export class PerfBuffer extends Reader {
  #lostAtClose = 0;
  /** @internal use BpfObject.perfBuffer() */
  constructor(name: string, fd: number, onRecord: RecordHandler, opts: PerfBufferOptions) {
    super(name, onRecord, opts);
    const pages = opts.pagesPerCpu ?? 64;
    if (!Number.isInteger(pages) || pages <= 0 || (pages & (pages - 1)) !== 0) {
      throw new EbpfError(`${name}: pages per CPU must be a power of two, got ${pages}`, 'EINVAL');
    }
    const wakeupBytes = opts.wakeupBytes ?? (pages * 4096) / 4;
    if (!Number.isSafeInteger(wakeupBytes) || wakeupBytes < 0 || wakeupBytes > 0xffffffff) {
      throw new UsageError(`${name}: wakeupBytes must be a non-negative integer, got ${wakeupBytes}`);
    }
    const batch = batchOptions(name, opts);
    const { PerfReader } = native();
    this.open('perf buffer', (cb) => new PerfReader(fd, pages, cb, { ...batch, wakeupBytes }));
  }

  /** Samples the kernel dropped because a CPU's buffer was full. */
  lost(): number {
    const n = this.nativeReader as NativePerfReader | undefined;
    return n ? n.lost() : this.#lostAtClose;
  }

  override close(): void {
    const n = this.nativeReader as NativePerfReader | undefined;
    if (!n) return;
    super.close();
    this.#lostAtClose = n.lost();
  }
}
