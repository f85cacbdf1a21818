// The recorder's memory: the last N seconds (or N bytes) of raw records, as
// the ring buffer delivered them, in 1 MiB chunks. A record is copied once
// (4 bytes of length, then its bytes) and decoded only when the window is
// read. When the window is over its size or its oldest chunk is older than
// its span, that chunk goes, and its records are counted as evicted: older
// events are dropped, never silently.

const CHUNK = 1 << 20;

interface Chunk {
  buf: Buffer;
  used: number;
  count: number;
  /** CLOCK_MONOTONIC ns of its newest record. */
  last: number;
}

/** A record's timestamp (its first u64) as a number of ns: exact to 2^53 ns (104 days of uptime). */
export const recordNs = (view: DataView, offset: number): number =>
  view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 2 ** 32;

export class RecordWindow {
  readonly spanNs: number;
  readonly maxBytes: number;
  /** Records dropped from the window because they were too old or it was full. */
  evicted = 0;
  #chunks: Chunk[] = [];
  #bytes = 0;

  constructor(spanSeconds: number, maxBytes: number) {
    this.spanNs = spanSeconds * 1e9;
    this.maxBytes = Math.max(maxBytes, 2 * CHUNK);
  }

  /** Copies one record in. */
  append(view: DataView, offset: number, length: number): void {
    let c = this.#chunks[this.#chunks.length - 1];
    if (!c || c.used + 4 + length > c.buf.length) {
      c = { buf: Buffer.allocUnsafe(Math.max(CHUNK, length + 4)), used: 0, count: 0, last: 0 };
      this.#chunks.push(c);
      this.#bytes += c.buf.length;
    }
    c.buf.writeUInt32LE(length, c.used);
    c.buf.set(new Uint8Array(view.buffer, view.byteOffset + offset, length), c.used + 4);
    c.used += 4 + length;
    c.count++;
    c.last = recordNs(view, offset);
  }

  /** Drops the chunks outside the window at `nowNs` (CLOCK_MONOTONIC). Called once per batch. */
  trim(nowNs: number): void {
    while (this.#chunks.length > 1) {
      const first = this.#chunks[0]!;
      if (this.#bytes <= this.maxBytes && first.last >= nowNs - this.spanNs) break;
      this.#chunks.shift();
      this.#bytes -= first.buf.length;
      this.evicted += first.count;
    }
  }

  /** Records held now. */
  get size(): number {
    return this.#chunks.reduce((n, c) => n + c.count, 0);
  }

  /** Every record held, oldest first, as (view, offset, length); a record's view is valid during the call only. */
  forEach(fn: (view: DataView, offset: number, length: number) => void): void {
    for (const c of this.#chunks) {
      const view = new DataView(c.buf.buffer, c.buf.byteOffset, c.used);
      for (let o = 0; o < c.used; ) {
        const len = view.getUint32(o, true);
        fn(view, o + 4, len);
        o += 4 + len;
      }
    }
  }
}
