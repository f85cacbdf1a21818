// Ring buffer and perf buffer readers. The native side drains the kernel buffer
// on wake-ups and on a short timer and calls in once per batch; here each batch
// is split into records for a handler, with no copying: the handler gets a
// DataView over the batch and the record's offset and length.
import type { NativePerfReader, NativeReader } from '../native/binding.js';
import { EbpfError, nativeCode } from '../errors.js';
import { native } from '../native/load.js';
import { track, untrack } from '../bpf/resources.js';

/** Called for each record; `source` is the ring's index (ring buffers) or the CPU (perf buffers). */
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

  protected open(make: (onBatch: (batch: Buffer, count: number) => void) => NativeReader): void {
    try {
      this.#native = make((batch, count) => this.#onBatch(batch, count));
    } catch (err) {
      const e = nativeCode(err);
      throw new EbpfError(`${this.name}: ${e.message}`, e.code, { cause: err });
    }
    track(this);
  }

  protected get nativeReader(): NativeReader | undefined {
    return this.#native;
  }

  #onBatch(batch: Buffer, count: number): void {
    const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
    const onRecord = this.#onRecord;
    let off = 0;
    for (let i = 0; i < count; i++) {
      const len = view.getUint32(off, true);
      onRecord(view, off + 8, len, view.getUint32(off + 4, true));
      off += (8 + len + 7) & ~7;
    }
    this.#records += count;
    this.#onBatchEnd?.();
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

  /** Delivers everything waiting in the kernel buffer now, synchronously. */
  flush(): number {
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
      n.flush();
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
    const { RingReader } = native();
    this.open((cb) => new RingReader(fds, cb, { batchBytes: opts.batchBytes, intervalMs: opts.intervalMs }));
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
    const { PerfReader } = native();
    this.open((cb) => new PerfReader(fd, pages, cb, { batchBytes: opts.batchBytes, intervalMs: opts.intervalMs, wakeupBytes }));
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
