// Rows written as bytes into one reused buffer. Under a storm a tool prints
// hundreds of thousands of rows a second; building a string per row, then
// joining and re-encoding them, costs more CPU than the tracing itself. A
// RowBuffer takes text and numbers and, for the hot columns, bytes copied
// straight from a ring record, and hands finished chunks to a sink.
const SPACE = 0x20;
const ZERO = 0x30;
const MINUS = 0x2d;

/** Flush once this much is waiting. */
export const CHUNK_BYTES = 64 * 1024;
/** Room past CHUNK_BYTES: the longest row (8 KiB of names, escaped 4×) fits. */
const ROOM = CHUNK_BYTES + 64 * 1024;

const BACKSLASH = 0x5c;

/** True when every byte from `from` to `to` is printable ASCII other than the backslash (copied as is: escapeControl leaves it so). */
export function printable(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return false;
  }
  return true;
}

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Spent chunks kept for reuse (what a pipe holds queued is bounded: see Output.QUEUE_BYTES). */
const MAX_SPARE = 16;

export class RowBuffer {
  #buf: Buffer = Buffer.allocUnsafe(ROOM);
  #spare: Buffer[] = [];
  /** Write position: rows are appended here. */
  pos = 0;
  #sink: (chunk: Buffer) => boolean;

  /**
   * `sink` receives each finished chunk and returns true when it is done with
   * the bytes (the buffer is then reused), false when it may still read them.
   */
  constructor(sink: (chunk: Buffer) => boolean) {
    this.#sink = sink;
  }

  /** Bytes waiting. */
  get pending(): number {
    return this.pos;
  }

  /** Hands what is waiting to the sink. */
  flush(): void {
    if (this.pos === 0) return;
    const chunk = this.#buf.subarray(0, this.pos);
    this.pos = 0;
    if (!this.#sink(chunk)) this.#buf = this.#spare.pop() ?? Buffer.allocUnsafe(ROOM);
  }

  /**
   * Takes back a chunk the sink kept (it returned false) once it is done with
   * it. Without this, each chunk still queued behind a pipe costs a fresh
   * buffer, and the spent ones wait for a V8 collection to be freed: tens of
   * MB of native heap under a storm into `| grep`.
   */
  recycle(chunk: Buffer): void {
    if (chunk.byteOffset === 0 && chunk.buffer.byteLength === ROOM && this.#spare.length < MAX_SPARE) {
      this.#spare.push(Buffer.from(chunk.buffer as ArrayBuffer, 0, ROOM));
    }
  }

  /** Ends a row: flushes when a chunk's worth is waiting. */
  endRow(): void {
    if (this.pos >= CHUNK_BYTES) this.flush();
  }

  /** Text as UTF-8 (whole rows from a formatter, a header). */
  text(s: string): void {
    if (s.length * 3 > this.#buf.length - this.pos) {
      this.flush();
      if (s.length * 3 > this.#buf.length) {
        this.#sink(Buffer.from(s, 'utf8'));
        return;
      }
    }
    this.pos += this.#buf.write(s, this.pos, 'utf8');
    this.endRow();
  }

  byte(c: number): void {
    this.#buf[this.pos++] = c;
  }

  /** Bytes copied from a record. */
  copy(src: Uint8Array, from: number, to: number): void {
    const buf = this.#buf;
    let p = this.pos;
    if (to - from > 32) {
      buf.set(src.subarray(from, to), p);
      p += to - from;
    } else {
      for (let i = from; i < to; i++) buf[p++] = src[i]!;
    }
    this.pos = p;
  }

  /**
   * A NUL-terminated name in a record (a comm: at most `max` bytes), left-aligned
   * in `width` bytes ("%-16s"). Writes nothing and returns false when a byte is
   * not printable ASCII or is a backslash (the name needs escaping: the slow
   * path's business).
   */
  cstring(view: DataView, at: number, max: number, width = 0): boolean {
    let end = at;
    for (const stop = at + max; end < stop; end++) {
      const c = view.getUint8(end);
      if (c === 0) break;
      if (c < 0x20 || c > 0x7e || c === BACKSLASH) return false;
    }
    const start = this.pos;
    for (let i = at; i < end; i++) this.#buf[this.pos++] = view.getUint8(i);
    this.spacesTo(start + width);
    return true;
  }

  /**
   * The same name as a CSV field (no padding): false as well when it holds a
   * comma or a double quote (the field needs quoting: the slow path's business).
   */
  csvCstring(view: DataView, at: number, max: number): boolean {
    for (let i = at, end = at + max; i < end; i++) {
      const c = view.getUint8(i);
      if (c === 0) break;
      if (c === 0x2c || c === 0x22) return false; // , "
    }
    return this.cstring(view, at, max);
  }

  /** Spaces up to column `end` (an absolute position). */
  spacesTo(end: number): void {
    while (this.pos < end) this.#buf[this.pos++] = SPACE;
  }

  /** An ASCII string, left-aligned in `width` bytes ("%-Ns"). */
  ascii(s: string, width = 0): void {
    const start = this.pos;
    for (let i = 0; i < s.length; i++) this.#buf[this.pos++] = s.charCodeAt(i);
    this.spacesTo(start + width);
  }

  #uint(n: number): void {
    let p = this.pos + digits(n);
    this.pos = p;
    do {
      this.#buf[--p] = ZERO + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  /** "%-Nd" */
  intLeft(n: number, width: number): void {
    const start = this.pos;
    if (n < 0) {
      this.byte(MINUS);
      n = -n;
    }
    this.#uint(n);
    this.spacesTo(start + width);
  }

  /** "%Nd" */
  intRight(n: number, width: number): void {
    const neg = n < 0;
    const abs = neg ? -n : n;
    this.spacesTo(this.pos + width - digits(abs) - (neg ? 1 : 0));
    if (neg) this.byte(MINUS);
    this.#uint(abs);
  }

  /** "%0No" of a value below 2^32. */
  octal(n: number, width: number): void {
    let d = 1;
    for (let v = n >>> 3; v > 0; v >>>= 3) d++;
    const w = d > width ? d : width;
    let p = this.pos + w;
    this.pos = p;
    for (let i = 0; i < w; i++) {
      this.#buf[--p] = ZERO + (n & 7);
      n >>>= 3;
    }
  }
}
