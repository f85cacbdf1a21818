// Tracer: the handle every event tool returns. It owns a loaded BPF object and
// its ring buffer reader, decodes records into typed events, and hands them
// out two ways:
//   * `for await (const ev of tracer)`: one event at a time, for embedders;
//     when the consumer falls behind, reading pauses (the kernel buffer then
//     fills and its drops are counted), so memory stays bounded;
//   * `tracer.subscribe(events => ...)`: one call per batch, for CLIs that
//     print thousands of events a second.
// close() delivers what is still buffered, detaches everything, and ends
// iteration. It is idempotent, and runs at process exit if nobody called it.
import type { BpfObject } from '../bpf/object.js';
import type { RingBuffer } from './reader.js';
import { track, untrack } from '../bpf/resources.js';

/** Turns one record into an event, or undefined to drop it (a user-space filter). */
export type Decoder<E> = (view: DataView, offset: number, length: number) => E | undefined;

export interface TracerOptions<E> {
  object: BpfObject;
  /** Ring buffer maps to read. */
  rings: string[];
  decode: Decoder<E>;
  /** Largest batch per call into JavaScript (default 256 KiB). */
  batchBytes?: number;
  /** Drain interval when the kernel has not woken the reader (default 20 ms). */
  intervalMs?: number;
  /** Events queued for a slow `for await` consumer before reading pauses (default 65536). */
  highWaterMark?: number;
}

export interface LostCounts {
  /** Records the BPF side could not put in the ring buffer (it was full). */
  ring: number;
}

export class Tracer<E> implements AsyncIterable<E> {
  readonly object: BpfObject;
  #reader: RingBuffer;
  #listeners: Array<(events: E[]) => void> = [];
  #batch: E[] = [];
  #queue: E[] = [];
  #queueHead = 0;
  #waiting: Array<(r: IteratorResult<E>) => void> = [];
  #iterators = 0;
  #highWater: number;
  #paused = false;
  #closed = false;
  #lostAtClose: LostCounts = { ring: 0 };
  #closeCallbacks: Array<() => void> = [];

  constructor(opts: TracerOptions<E>) {
    this.object = opts.object;
    this.#highWater = opts.highWaterMark ?? 65536;
    const decode = opts.decode;
    const batch = this.#batch;
    this.#reader = opts.object.ringBuffer(
      opts.rings,
      (view, offset, length) => {
        const ev = decode(view, offset, length);
        if (ev !== undefined) batch.push(ev);
      },
      { batchBytes: opts.batchBytes, intervalMs: opts.intervalMs, onBatchEnd: () => this.#deliver() },
    );
    track(this);
  }

  #deliver(): void {
    if (this.#batch.length === 0) return;
    const events = this.#batch.splice(0);
    for (const l of this.#listeners) l(events);
    if (this.#iterators > 0 || this.#listeners.length === 0) this.#enqueue(events);
  }

  #enqueue(events: E[]): void {
    let i = 0;
    while (i < events.length && this.#waiting.length) this.#waiting.shift()!({ value: events[i++]!, done: false });
    for (; i < events.length; i++) this.#queue.push(events[i]!);
    if (!this.#paused && this.#queue.length - this.#queueHead >= this.#highWater) {
      this.#paused = true;
      this.#reader.pause();
    }
  }

  #next(): Promise<IteratorResult<E>> {
    if (this.#queueHead < this.#queue.length) {
      const value = this.#queue[this.#queueHead++]!;
      if (this.#queueHead > 4096 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#queueHead);
        this.#queueHead = 0;
      }
      if (this.#paused && this.#queue.length - this.#queueHead < this.#highWater / 2) {
        this.#paused = false;
        this.#reader.resume();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Calls `listener` with each batch of events, in order. Returns an unsubscribe function. */
  subscribe(listener: (events: E[]) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<E> {
    this.#iterators++;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        this.#iterators--;
      }
    };
    return {
      next: async () => {
        const r = await this.#next();
        if (r.done) finish();
        return r;
      },
      // `break` out of for-await ends the iteration, not the tracer.
      return: async () => {
        finish();
        return { value: undefined, done: true };
      },
    };
  }

  /** Delivers everything waiting in the kernel buffer now. */
  flush(): void {
    if (!this.#closed) this.#reader.flush();
  }

  /** Events lost so far. */
  lost(): LostCounts {
    return this.#closed ? { ...this.#lostAtClose } : { ring: this.#reader.lost() };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `cb` once the tracer is closed (by anyone). */
  onClose(cb: () => void): void {
    if (this.#closed) cb();
    else this.#closeCallbacks.push(cb);
  }

  /** Delivers what is buffered, detaches every probe, frees everything; ends iteration. */
  close(): void {
    if (this.#closed) return;
    try {
      this.#reader.close(); // flushes first
      this.#lostAtClose = { ring: this.#reader.lost() }; // read while the object is still open
    } finally {
      this.#closed = true;
      this.object.close();
      untrack(this);
      for (const w of this.#waiting.splice(0)) w({ value: undefined, done: true });
      for (const cb of this.#closeCallbacks.splice(0)) cb();
    }
  }
}
