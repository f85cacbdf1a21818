// Decoding helpers for event records (subpath `@ebpf/core/decode`).
//
// Generated decoders import this file for every event, so it imports nothing
// and allocates as little as possible.
//
// Strings in events come from untrusted processes (comm, paths, argv) and are
// not guaranteed to be UTF-8. Instead of U+FFFD (which loses the byte value)
// each byte NN of an invalid sequence becomes the lone surrogate U+DCNN, as
// Python's `errors="surrogateescape"` (os.fsdecode) does: the string is exact
// (valid UTF-8 never decodes to a lone surrogate, so the four characters
// `\xff` and the byte 0xff stay different), and rawBytes() gives the bytes
// back. Text output shows such a byte as `\xNN` (format's escapeControl);
// JSON lines carry it as U+FFFD plus a `<field>_bytes` base64 sibling
// (format's jsonLine).

// Not fatal: a U+FFFD in the output tells us to take the slow path, which is
// cheaper than catching an exception per malformed string. ignoreBOM keeps a
// leading EF BB BF instead of silently dropping it.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

// Measured on Node 20: building a string of up to 8 ASCII bytes in JS beats
// a call into TextDecoder (~100 ns); scanning for the NUL with getUint8 beats
// allocating a view for the first 32 bytes, after that Uint8Array#indexOf wins.
const SHORT_STRING = 8;
const SHORT_SCAN = 32;

/**
 * A copy of `length` bytes of `view` starting at `offset`. A copy, because a
 * reader's batch buffer (the memory behind a record's view) is written over
 * by the next batch, while a decoded event may be kept for longer.
 */
export function bytes(view: DataView, offset: number, length: number): Uint8Array {
  return bytesView(view, offset, length).slice();
}

/**
 * A view (no copy) of `length` bytes of `view` starting at `offset`: valid
 * only as long as the memory under `view` is, for a ring or perf buffer
 * record only during its handler.
 */
export function bytesView(view: DataView, offset: number, length: number): Uint8Array {
  if (offset < 0 || length < 0 || offset + length > view.byteLength) {
    throw new RangeError(`bytes(${offset}, ${length}) outside a DataView of ${view.byteLength} bytes`);
  }
  return new Uint8Array(view.buffer, view.byteOffset + offset, length);
}

/**
 * A NUL-terminated string of at most `max` bytes at `offset` (a `char[max]`
 * field); stops at the end of the view. Decoded as UTF-8, invalid bytes as U+DCNN.
 */
export function cstring(view: DataView, offset: number, max: number): string {
  const lim = Math.min(max, view.byteLength - offset);
  const scan = lim < SHORT_SCAN ? lim : SHORT_SCAN;
  let n = 0;
  let ascii = true;
  for (; n < scan; n++) {
    const c = view.getUint8(offset + n);
    if (c === 0) break;
    if (c >= 0x80) ascii = false;
  }
  if (n === scan && n < lim) {
    // Long string: let indexOf find the NUL.
    const all = new Uint8Array(view.buffer, view.byteOffset + offset, lim);
    const end = all.indexOf(0, n);
    return decodeUtf8(end < 0 ? all : all.subarray(0, end));
  }
  if (n === 0) return '';
  if (ascii && n <= SHORT_STRING) {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(view.getUint8(offset + i));
    return s;
  }
  return decodeUtf8(new Uint8Array(view.buffer, view.byteOffset + offset, n));
}

/**
 * NUL-separated strings, e.g. an argv block. Every NUL ends a string (so empty
 * arguments are kept); bytes after the last NUL form a final, unterminated
 * string. At most `max` strings are returned.
 */
export function splitCStrings(b: Uint8Array, max = Infinity): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < b.length && out.length < max) {
    let end = b.indexOf(0, start);
    if (end < 0) end = b.length;
    out.push(end === start ? '' : decodeUtf8(b.subarray(start, end)));
    start = end + 1;
  }
  return out;
}

/** UTF-8 bytes to a string; each byte NN of an invalid sequence becomes the lone surrogate U+DCNN (surrogateescape). */
export function decodeUtf8(b: Uint8Array): string {
  const s = utf8Decoder.decode(b);
  // No replacement character: the input was valid UTF-8.
  return s.indexOf('\uFFFD') < 0 ? s : decodeUtf8Slow(b);
}

// A byte that is not part of valid UTF-8 (always 0x80..0xff): U+DC80..U+DCFF.
const rawByte = (c: number): string => String.fromCharCode(0xdc00 + c);

// Strict UTF-8 (no overlongs, no surrogates, max U+10FFFF), per the table in
// RFC 3629 section 4. An invalid lead byte is escaped and decoding resumes at
// the next byte, so every byte of a bad sequence is escaped on its own, as
// Python's surrogateescape does.
function decodeUtf8Slow(b: Uint8Array): string {
  let out = '';
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    let need: number; // continuation bytes
    let lo = 0x80; // allowed range of the first continuation byte
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else {
      out += rawByte(c);
      i++;
      continue;
    }
    let ok = i + need < n;
    if (ok) {
      const c1 = b[i + 1]!;
      ok = c1 >= lo && c1 <= hi;
      for (let k = 2; ok && k <= need; k++) ok = (b[i + k]! & 0xc0) === 0x80;
    }
    if (!ok) {
      out += rawByte(c);
      i++;
      continue;
    }
    let cp = c & (0x7f >> (need + 1));
    for (let k = 1; k <= need; k++) cp = (cp << 6) | (b[i + k]! & 0x3f);
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

// A lone low surrogate U+DC80..U+DCFF: a raw byte (a surrogate pair's low half
// is preceded by its high half; decoded text has no other lone surrogates).
const RAW_BYTE = /(?<![\ud800-\udbff])[\udc80-\udcff]/;

/** True when `s` holds bytes that were not valid UTF-8 (U+DC80..U+DCFF, lone). */
export function hasRawBytes(s: string): boolean {
  return RAW_BYTE.test(s);
}

/**
 * The bytes a decoded string came from: UTF-8, with each lone U+DCNN back to
 * the byte NN (Python's `s.encode('utf-8', 'surrogateescape')`).
 */
export function rawBytes(s: string): Buffer {
  if (!hasRawBytes(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff && !(i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff)) {
      parts.push(Buffer.from(s.slice(last, i), 'utf8'), Buffer.of(c - 0xdc00));
      last = i + 1;
    }
  }
  parts.push(Buffer.from(s.slice(last), 'utf8'));
  return Buffer.concat(parts);
}
