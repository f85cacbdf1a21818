// The CLI's fast path: BCC's rows written straight from ring records into an
// output buffer, byte by byte, with no event object and no intermediate
// strings. An open() storm delivers hundreds of thousands of records a second,
// and building an OpenEvent, then a row string, then joining and re-encoding
// the rows cost several times more CPU than the tracing itself.
//
// The output is byte-for-byte what rowFormatter() (output.ts) prints for the
// decoded event: comm and path are copied as they are when they are printable
// ASCII (nearly always); any other byte (a control character, non-ASCII, an
// invalid UTF-8 sequence) sends that row through rowFormatter() instead, so
// escaping and decoding rules live in one place.
import { fmtFixed } from '@ebpf/core/format';
import { decodeOpen } from './index.js';
import { EVENT_OFFSETS as O, EV_DIR, EV_DIR_TRUNCATED, EV_PATH_TRUNCATED } from './opensnoop.gen.js';
import { rowFormatter, type Flags, type RowState } from './output.js';

const CHUNK = 64 * 1024; // flush once this much is waiting
const ROOM = CHUNK + 64 * 1024; // the longest row (8 KiB of names, escaped 4×) fits after CHUNK
const SPACE = 0x20;
const ZERO = 0x30;
const SLASH = 0x2f;
const DOT = 0x2e;
const NL = 0x0a;

/** Printable ASCII: copied as is. Anything else takes the careful path. */
function printable(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

export class RowWriter {
  #buf = Buffer.allocUnsafe(ROOM);
  #pos = 0;
  #src: Uint8Array = new Uint8Array(0);
  #view: DataView | undefined;
  #sink: (chunk: Buffer) => boolean;
  #slow: (view: DataView, offset: number, length: number) => string;
  #state: RowState = {};
  #timestamp: boolean;
  #printUid: boolean;
  #byTid: boolean;
  #extended: boolean;
  #fullPath: boolean;

  /**
   * `sink` receives each finished chunk and returns true when it no longer
   * needs it (the writer then reuses the buffer), false when it keeps it.
   */
  constructor(f: Flags, sink: (chunk: Buffer) => boolean) {
    this.#sink = sink;
    this.#timestamp = !!f.timestamp;
    this.#printUid = !!f.printUid;
    this.#byTid = f.tid !== undefined;
    this.#extended = !!f.extendedFields;
    this.#fullPath = !!f.fullPath;
    const format = rowFormatter(f, this.#state);
    this.#slow = (view, offset, length) => format(decodeOpen(view, offset, length));
  }

  /** Bytes waiting to be flushed. */
  get pending(): number {
    return this.#pos;
  }

  /** Formats one ring record (the RecordHandler of a ring buffer reader). */
  record(view: DataView, off: number, len: number): void {
    if (view !== this.#view) {
      this.#view = view;
      this.#src = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    }
    const src = this.#src;
    const start = this.#pos;
    // comm: up to its NUL, printable?
    const commAt = off + O.comm;
    let commEnd = commAt;
    while (commEnd < commAt + 16 && src[commEnd] !== 0) commEnd++;
    const pathAt = off + O.data;
    const pathEnd = pathAt + Math.min(view.getUint16(off + O.path_len, true), len - O.data);
    const status = view.getUint8(off + O.status);
    const dirs = this.#fullPath && (status & EV_DIR) !== 0;
    const dirEnd = dirs ? Math.min(off + len, pathEnd + view.getUint16(off + O.dir_len, true)) : pathEnd;
    if (!printable(src, commAt, commEnd) || !printable(src, pathAt, pathEnd) || (dirs && !this.#printableDirs(src, pathEnd, dirEnd))) {
      this.#pos += this.#buf.write(this.#slow(view, off, len), start, 'utf8');
      if (this.#pos >= CHUNK) this.flush();
      return;
    }

    if (this.#timestamp) {
      const ts = view.getBigUint64(off + O.ts, true);
      if (this.#state.first === undefined) this.#state.first = ts;
      this.#ascii(fmtFixed(Number(ts - this.#state.first) / 1e9, 9), 14);
    }
    if (this.#printUid) this.#intLeft(view.getUint32(off + O.uid, true), 6);
    this.#intLeft(view.getUint32(off + (this.#byTid ? O.tid : O.pid), true), 6);
    this.#byte(SPACE);
    this.#copy(src, commAt, commEnd);
    this.#spacesTo(this.#pos - (commEnd - commAt) + 16);
    this.#byte(SPACE);
    const ret = view.getInt32(off + O.ret, true);
    this.#intRight(ret >= 0 ? ret : -1, 4);
    this.#byte(SPACE);
    this.#intRight(ret >= 0 ? 0 : -ret, 3);
    this.#byte(SPACE);
    if (this.#extended) {
      const lo = view.getUint32(off + O.flags, true);
      const hi = view.getUint32(off + O.flags + 4, true);
      if (hi === 0) this.#octal8(lo);
      else this.#ascii(Number(view.getBigUint64(off + O.flags, true)).toString(8).padStart(8, '0'), 0);
      this.#byte(SPACE);
    }
    if (dirs) {
      // names innermost first, each NUL-terminated: print them outermost first
      if (status & EV_DIR_TRUNCATED) this.#ascii('...', 0);
      let end = dirEnd;
      if (end > pathEnd && src[end - 1] === 0) end--;
      while (end > pathEnd) {
        let from = end;
        while (from > pathEnd && src[from - 1] !== 0) from--;
        this.#byte(SLASH);
        this.#copy(src, from, end);
        end = from - 1;
      }
      this.#byte(SLASH);
    }
    this.#copy(src, pathAt, pathEnd);
    if (status & EV_PATH_TRUNCATED) {
      this.#byte(DOT);
      this.#byte(DOT);
      this.#byte(DOT);
    }
    this.#byte(NL);
    if (this.#pos >= CHUNK) this.flush();
  }

  /** Hands what is waiting to the sink. */
  flush(): void {
    if (this.#pos === 0) return;
    const chunk = this.#buf.subarray(0, this.#pos);
    this.#pos = 0;
    // The sink returns true when it is done with the bytes (a write that
    // completed at once): the buffer is reused. Otherwise it may still be
    // reading them, and the next rows go to a new buffer.
    if (!this.#sink(chunk)) this.#buf = Buffer.allocUnsafe(ROOM);
  }

  #printableDirs(b: Uint8Array, from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      const c = b[i]!;
      if (c !== 0 && (c < 0x20 || c > 0x7e)) return false;
    }
    return true;
  }

  #byte(c: number): void {
    this.#buf[this.#pos++] = c;
  }

  #copy(src: Uint8Array, from: number, to: number): void {
    const buf = this.#buf;
    let p = this.#pos;
    if (to - from > 32) {
      buf.set(src.subarray(from, to), p);
      p += to - from;
    } else {
      for (let i = from; i < to; i++) buf[p++] = src[i]!;
    }
    this.#pos = p;
  }

  #spacesTo(end: number): void {
    while (this.#pos < end) this.#buf[this.#pos++] = SPACE;
  }

  /** An ASCII string, left-aligned in `width` bytes. */
  #ascii(s: string, width: number): void {
    const start = this.#pos;
    for (let i = 0; i < s.length; i++) this.#buf[this.#pos++] = s.charCodeAt(i);
    this.#spacesTo(start + width);
  }

  #digits(n: number): number {
    let d = 1;
    while (n >= 10) {
      n = Math.floor(n / 10);
      d++;
    }
    return d;
  }

  /** A non-negative integer's digits at the current position. */
  #uint(n: number): void {
    const d = this.#digits(n);
    let p = this.#pos + d;
    this.#pos = p;
    do {
      this.#buf[--p] = ZERO + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  /** "%-Nd" */
  #intLeft(n: number, width: number): void {
    const start = this.#pos;
    if (n < 0) {
      this.#byte(0x2d);
      n = -n;
    }
    this.#uint(n);
    this.#spacesTo(start + width);
  }

  /** "%Nd" */
  #intRight(n: number, width: number): void {
    const neg = n < 0;
    const abs = neg ? -n : n;
    const w = this.#digits(abs) + (neg ? 1 : 0);
    this.#spacesTo(this.#pos + width - w);
    if (neg) this.#byte(0x2d);
    this.#uint(abs);
  }

  /** "%08o" of a 32-bit value */
  #octal8(n: number): void {
    let d = 1;
    for (let v = n >>> 3; v > 0; v >>>= 3) d++;
    const w = d > 8 ? d : 8;
    let p = this.#pos + w;
    this.#pos = p;
    for (let i = 0; i < w; i++) {
      this.#buf[--p] = ZERO + (n & 7);
      n >>>= 3;
    }
  }
}
