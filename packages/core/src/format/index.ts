// Output formatting that matches BCC's Python tools byte for byte
// (subpath `@ebpf/core/format`). Pure functions, no dependencies.

// ---------------------------------------------------------------------------
// Histograms (bcc/table.py 0.26: _print_log2_hist, _print_linear_hist, _stars)

type Count = number | bigint;

const STARS_MAX = 40; // bcc/table.py stars_max
const BAR_BLANKS = ' '.repeat(STARS_MAX);
const BAR_STARS = '*'.repeat(STARS_MAX);
// Every possible bar, indexed by star count, for the two widths in use:
// bars are built once, not per row.
const bars = (w: number): string[] =>
  Array.from({ length: w + 1 }, (_, n) => BAR_STARS.slice(0, n) + BAR_BLANKS.slice(0, w - n));
const BARS_40 = bars(STARS_MAX);
const BARS_20 = bars(STARS_MAX / 2);

// Python's _stars draws floor(width * val / val_max) stars (float division),
// capped at width. Exact with plain numbers while width * val stays an exact
// double; larger counts take the bigint path, whose exact floor can differ from
// Python's rounded float only when val_max > 2^47.
const SAFE_MAX_COUNT = Math.floor(Number.MAX_SAFE_INTEGER / STARS_MAX);
function starCount(v: Count, max: Count, width: number): number {
  let n: number;
  if (typeof v === 'number' && typeof max === 'number' && max <= SAFE_MAX_COUNT) {
    n = Math.floor((width * v) / max);
  } else {
    const bv = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    const bm = typeof max === 'bigint' ? max : BigInt(Math.trunc(max));
    n = Number((BigInt(width) * bv) / bm);
  }
  return n <= 0 ? 0 : n > width ? width : n;
}

// Bounds of BCC slot s (BCC's bucket numbering, see log2Histogram):
// low = (1 << s) >> 1, high = (1 << s) - 1, low -= 1 when they are equal.
// Numbers while exact (s <= 53), bigints above.
function slotLow(s: number): number | bigint {
  if (s <= 53) return s <= 1 ? s - 1 : 2 ** (s - 1);
  return 1n << BigInt(s - 1);
}
function slotHigh(s: number): number | bigint {
  return s <= 53 ? 2 ** s - 1 : (1n << BigInt(s)) - 1n;
}
// Decimal bounds of slots 0..64 (BCC's log2_index_max = 65 covers any u64),
// so printing a row converts no numbers.
const LOG2_SLOTS = 65;
const LOW_STR: string[] = [];
const HIGH_STR: string[] = [];
for (let s = 0; s < LOG2_SLOTS; s++) {
  LOW_STR.push(String(slotLow(s)));
  HIGH_STR.push(String(slotHigh(s)));
}
const lowStr = (s: number): string => (s < LOG2_SLOTS ? LOW_STR[s]! : String(slotLow(s)));
const highStr = (s: number): string => (s < LOG2_SLOTS ? HIGH_STR[s]! : String(slotHigh(s)));

export interface Log2Options {
  /**
   * `buckets[i]` is BCC's in-kernel slot i (`bpf_log2l(v)` = floor(log2(v)) + 1,
   * v = 0 also in slot 1; slot 0 is never printed). Default: libbpf-tools'
   * convention, see log2Histogram.
   */
  bccSlots?: boolean;
  /** BCC's `strip_leading_zero`: skip empty buckets before the first non-empty one. */
  stripLeadingZero?: boolean;
}

/**
 * The bucket index of `v` in the default (libbpf-tools) convention:
 * floor(log2(v)), with 0 and 1 both in bucket 0. Add 1 for BCC's slots.
 */
export function log2Slot(v: number | bigint): number {
  if (typeof v === 'number') {
    if (!(v >= 2)) return 0; // also NaN and negatives
    if (v < 0x1_0000_0000) return 31 - Math.clz32(v);
    // Math.log2 rounds up just below powers of two (2^53 - 1 gives 53): split instead.
    if (v < 2 ** 64) return 63 - Math.clz32(Math.floor(v / 0x1_0000_0000));
    return Math.floor(Math.log2(v)); // beyond u64: approximate is fine
  }
  if (v < 2n) return 0;
  let r = 0;
  while (v >= 0x1_0000_0000n) {
    v >>= 32n;
    r += 32;
  }
  return r + 31 - Math.clz32(Number(v));
}

// Shared scan: BCC's idx_max (last non-zero bucket) and val_max. Note val_max
// includes BCC slot 0 even though that slot is never printed.
function scan(buckets: ArrayLike<Count>): { idxMax: number; max: Count } {
  let idxMax = -1;
  let max: Count = 0;
  for (let i = 0; i < buckets.length; i++) {
    const v = buckets[i]!;
    if (v > 0) idxMax = i;
    if (v > max) max = v;
  }
  return { idxMax, max };
}

const HEAD_NARROW = '     ';
const HEAD_WIDE = '               ';
const HEAD_TAIL = ' : count     distribution\n';

/**
 * BCC's `print_log2_hist`. Returns the printed text, every line ending in
 * "\n", or "" when all buckets are zero (BCC prints nothing then).
 *
 * Bucket convention (default, as libbpf-tools count in the kernel):
 * `buckets[i]` holds values v with floor(log2(v)) == i, v = 0 and 1 in bucket 0
 * (see log2Slot). Row i reads low = 2^i (0 for i = 0), high = 2^(i+1) - 1:
 * `0 -> 1`, `2 -> 3`, `4 -> 7`, ... Bucket i is BCC's slot i + 1, and the layout
 * widens (20-digit bounds, 20-star bars) when BCC's idx_max exceeds 32, i.e.
 * when our last non-empty bucket is 32 or higher.
 *
 * Leading empty buckets are printed (unless stripLeadingZero), trailing ones not.
 */
export function log2Histogram(buckets: ArrayLike<Count>, valType: string, opts?: Log2Options): string {
  const off = opts?.bccSlots ? 0 : 1; // BCC slot = bucket index + off
  const { idxMax, max } = scan(buckets);
  const top = idxMax + off; // BCC's idx_max
  if (top <= 0) return '';
  const wide = top > 32;
  const boundWidth = wide ? 20 : 10;
  const width = wide ? STARS_MAX / 2 : STARS_MAX;
  const barTable = wide ? BARS_20 : BARS_40;
  let out = wide ? HEAD_WIDE + valType.padEnd(29) + HEAD_TAIL : HEAD_NARROW + valType.padEnd(19) + HEAD_TAIL;
  let strip = opts?.stripLeadingZero === true;
  for (let i = 1 - off; i <= idxMax; i++) {
    const v = buckets[i]!;
    if (strip) {
      if (!v) continue;
      strip = false;
    }
    const s = i + off;
    out +=
      lowStr(s).padStart(boundWidth) + ' -> ' + highStr(s).padEnd(boundWidth) + ' : ' +
      String(v).padEnd(8) + ' |' + barTable[starCount(v, max, width)] + '|\n';
  }
  return out;
}

export interface Log2Row {
  low: number | bigint; // bigint only where the bound exceeds 2^53 - 1
  high: number | bigint;
  count: number | bigint;
}

/**
 * The rows log2Histogram prints (same bucket convention and options), as data
 * for `--json`. BCC's `print_json_hist` has the same rows under the names
 * interval-start / interval-end / count. Empty when all buckets are zero.
 */
export function log2HistogramRows(buckets: ArrayLike<Count>, opts?: Omit<Log2Options, 'stripLeadingZero'>): Log2Row[] {
  const off = opts?.bccSlots ? 0 : 1;
  const { idxMax } = scan(buckets);
  const rows: Log2Row[] = [];
  for (let i = 1 - off; i <= idxMax; i++) {
    const s = i + off;
    rows.push({ low: slotLow(s), high: slotHigh(s), count: buckets[i]! });
  }
  return rows;
}

/**
 * BCC's `print_log2_hist` of a table with a section key (biolatency -D,
 * runqlat -P, hardirqs -d): each histogram after a line "\n<header> = <label>".
 * Sections print in the order given; empty histograms print nothing. Labels
 * print as given: escape text from other processes first (escapeControl).
 */
export function log2Sections(
  sections: Iterable<{ label: string; buckets: ArrayLike<Count> }>,
  valType: string,
  sectionHeader: string,
  opts?: Log2Options,
): string {
  let out = '';
  for (const s of sections) {
    const h = log2Histogram(s.buckets, valType, opts);
    if (h) out += `\n${sectionHeader} = ${s.label}\n${h}`;
  }
  return out;
}

/** Time units of histograms and totals, as BCC labels them. */
export type TimeUnit = 'nsecs' | 'usecs' | 'msecs';
const NS_PER_UNIT: Record<TimeUnit, number> = { nsecs: 1, usecs: 1_000, msecs: 1_000_000 };

/** Whole `unit`s in `ns` nanoseconds, truncated (BCC's `%d` of a time divided by its factor). */
export function nsIn(ns: number, unit: TimeUnit): number {
  return Math.floor(ns / NS_PER_UNIT[unit]);
}

/**
 * A log2 histogram of times as one `--json` object: `fields` first (the
 * timestamp, the unit, what the histogram is of), then `count`, `total` and
 * `average` (whole units, truncated) and the printed rows as `buckets`
 * (see log2HistogramRows).
 */
export function log2HistogramJson(
  fields: Record<string, unknown>,
  h: { buckets: ArrayLike<Count>; count: number; totalNs: number },
  unit: TimeUnit,
): Record<string, unknown> {
  return {
    ...fields,
    count: h.count,
    total: nsIn(h.totalNs, unit),
    average: h.count > 0 ? nsIn(h.totalNs / h.count, unit) : 0,
    buckets: log2HistogramRows(h.buckets),
  };
}

/**
 * BCC's `print_linear_hist`: row i is labelled base + i * step (BCC itself
 * prints the bucket index: base 0, step 1). Leading empty buckets are printed
 * unless stripLeadingZero, trailing ones not; "" when all are zero.
 */
export function linearHistogram(
  buckets: ArrayLike<Count>,
  valType: string,
  base = 0,
  step = 1,
  opts?: { stripLeadingZero?: boolean },
): string {
  const { idxMax, max } = scan(buckets);
  if (idxMax < 0) return '';
  let out = HEAD_NARROW + valType.padEnd(13) + HEAD_TAIL;
  let strip = opts?.stripLeadingZero === true;
  for (let i = 0; i <= idxMax; i++) {
    const v = buckets[i]!;
    if (strip) {
      if (!v) continue;
      strip = false;
    }
    out +=
      '        ' + String(base + i * step).padEnd(10) + ' : ' + String(v).padEnd(8) +
      ' |' + BARS_40[starCount(v, max, STARS_MAX)] + '|\n';
  }
  return out;
}

// ---------------------------------------------------------------------------
// Safe text

// What text output escapes: C0, DEL and C1 controls, the backslash (so that
// an escape in the output can only come from here), and lone surrogates
// U+DC80..U+DCFF (bytes that were not UTF-8, see decode.ts). Compiled once;
// no `g` flag, so `test` keeps no state between calls.
const ESCAPED = /[\x00-\x1f\x7f-\x9f\\\udc80-\udcff]/;
const ESCAPES: string[] = [];
for (let c = 0; c <= 0x9f; c++) {
  ESCAPES.push(
    c === 0x0a
      ? '\\n'
      : c === 0x09
        ? '\\t'
        : c === 0x0d
          ? '\\r'
          : c >= 0x80
            ? '\\u00' + c.toString(16) // a C1 control character (UTF-8 C2 80..C2 9F)
            : '\\x' + c.toString(16).padStart(2, '0'),
  );
}

/**
 * Text from other processes made safe and exact for one line of output:
 * - `\n`, `\t`, `\r`, and `\xNN` for the other C0 controls and DEL, so it
 *   cannot move the cursor or drive the terminal;
 * - `\u0080`..`\u009f` for the C1 control characters;
 * - `\xNN` for a byte NN that was not part of valid UTF-8 (a lone U+DCNN,
 *   see decode.ts): `\x80`..`\xff`;
 * - `\\` for a backslash.
 * So every escape is unambiguous: the four characters `\xff` in a name print
 * as `\\xff`, the byte 0xff as `\xff`. Returns `s` itself when there is
 * nothing to do.
 */
export function escapeControl(s: string): string {
  if (!ESCAPED.test(s)) return s;
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let e: string | undefined;
    if (c <= 0x9f) {
      if (c < 0x20 || c >= 0x7f) e = ESCAPES[c];
      else if (c === 0x5c) e = '\\\\';
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
      if (prev < 0xd800 || prev > 0xdbff) e = '\\x' + (c - 0xdc00).toString(16);
    }
    if (e !== undefined) {
      out += s.slice(last, i) + e;
      last = i + 1;
    }
  }
  return out + s.slice(last);
}

// ---------------------------------------------------------------------------
// printf-style columns

const SURROGATE = /[\ud800-\udfff]/;

/**
 * Python's `%-N.Ns` of a comm (BCC's tools that print with str formatting:
 * widths count code points), control characters escaped: at most `width`
 * code points of output, padded to `width`, never cutting an escape (`\n`,
 * `\x1b`) in half.
 */
export function fitComm(comm: string, width: number): string {
  const escaped = escapeControl(comm);
  if (escaped === comm && !SURROGATE.test(comm)) {
    return comm.length >= width ? comm.slice(0, width) : comm + ' '.repeat(width - comm.length);
  }
  let out = '';
  let n = 0;
  for (const ch of comm) {
    const shown = escapeControl(ch);
    const len = shown.length === 1 || ch.length === 2 ? 1 : shown.length;
    if (n + len > width) break;
    out += shown;
    n += len;
  }
  return out + ' '.repeat(width - n);
}

/** A CSV field: quoted (RFC 4180) only when it holds a comma or a quote. */
export function csvField(s: string): string {
  return /[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// Width in UTF-8 bytes: the tools print comm, paths and argv with
// printb(b"%-16s" % bytes), which pads by bytes. UTF-8 is never shorter than
// UTF-16, so a string whose .length reaches the width needs no scan.
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // One byte counted already; a surrogate pair is 2 units for 4 bytes.
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}

/** `%-Ns`: left-aligned in `width` bytes, never truncated. */
export function pad(s: string, width: number): string {
  if (s.length >= width) return s;
  const n = utf8Length(s);
  return n >= width ? s : s + ' '.repeat(width - n);
}

/**
 * A leading column (TIME, UID, LABEL): `%-Ns`, but a value that fills or
 * overflows it keeps one space after it (BCC's rows run such columns together).
 */
export function cell(s: string, width: number): string {
  return s.length >= width ? `${s} ` : pad(s, width);
}

/** `%Ns`: right-aligned in `width` bytes, never truncated. */
export function padStart(s: string, width: number): string {
  if (s.length >= width) return s;
  const n = utf8Length(s);
  return n >= width ? s : ' '.repeat(width - n) + s;
}

/**
 * `%.Nf` as Python formats it. Number#toFixed rounds exact ties away from
 * zero where Python rounds to even (`'%.3f' % 0.0625` is 0.062), and it
 * differs for -0, NaN, infinities and 1e21 and up.
 */
export function fmtFixed(n: number, digits: number): string {
  if (!Number.isFinite(n)) return n !== n ? 'nan' : n > 0 ? 'inf' : '-inf';
  const sign = n < 0 || Object.is(n, -0) ? '-' : '';
  const a = Math.abs(n);
  if (a >= 1e21) return sign + BigInt(a).toString() + (digits > 0 ? '.' + '0'.repeat(digits) : '');
  // A double is an exact tie at `digits` decimals only when it has exactly
  // digits + 1 binary fraction digits (scaling by powers of two is exact).
  // Rare, so it may take the exact bigint path.
  const m = a * 2 ** (digits + 1);
  if (Number.isInteger(m) && !Number.isInteger(m / 2)) {
    // a * 10^digits = m * 5^digits / 2 = k + 1/2: round k to even.
    let k = (BigInt(m) * 5n ** BigInt(digits)) / 2n;
    if (k % 2n === 1n) k += 1n;
    const d = k.toString().padStart(digits + 1, '0');
    return sign + (digits > 0 ? d.slice(0, -digits) + '.' + d.slice(-digits) : d);
  }
  return sign + a.toFixed(digits);
}

const two = (n: number): string => (n < 10 ? '0' + n : String(n));

/** Local time as `HH:MM:SS` (BCC's `strftime("%H:%M:%S")`). */
export function hhmmss(date: Date = new Date()): string {
  return two(date.getHours()) + ':' + two(date.getMinutes()) + ':' + two(date.getSeconds());
}

// JSON lines: format/json.ts (one convention for every tool).
export { jsonLine, jsonValue, jsonEvent, isJsonEvent } from './json.js';

export { flameGraph, flameGraphSvg, flameGraphHtml, parseFolded, type FoldedStack, type FlameGraphOptions } from './flamegraph.js';
