import { describe, it, expect } from 'vitest';
import {
  escapeControl,
  fmtFixed,
  hhmmss,
  jsonLine,
  jsonEvent,
  isJsonEvent,
  linearHistogram,
  log2Histogram,
  log2HistogramJson,
  log2HistogramRows,
  log2Sections,
  log2Slot,
  nsIn,
  pad,
  padStart,
} from '../src/format/index.js';
import { bytes, bytesView, cstring, decodeUtf8, hasRawBytes, rawBytes, splitCStrings } from '../src/format/decode.js';

// Expected texts below are the output of bcc/table.py 0.26 (_print_log2_hist,
// _print_linear_hist) for the same counts, one "\n"-terminated line per print().
const lines = (...l: string[]): string => l.map((s) => s + '\n').join('');

const SAMPLE = lines(
  '     usecs               : count     distribution',
  '         0 -> 1          : 0        |                                        |',
  '         2 -> 3          : 0        |                                        |',
  '         4 -> 7          : 0        |                                        |',
  '         8 -> 15         : 0        |                                        |',
  '        16 -> 31         : 18       |                                        |',
  '        32 -> 63         : 1394     |****************************************|',
  '        64 -> 127        : 637      |******************                      |',
  '       128 -> 255        : 93       |**                                      |',
  '       256 -> 511        : 29       |                                        |',
  '       512 -> 1023       : 28       |                                        |',
  '      1024 -> 2047       : 25       |                                        |',
  '      2048 -> 4095       : 72       |**                                      |',
);

const WIDE = lines(
  '               nsecs                         : count     distribution',
  '                   0 -> 1                    : 1        |******              |',
  '                   2 -> 3                    : 0        |                    |',
  '                   4 -> 7                    : 0        |                    |',
  '                   8 -> 15                   : 0        |                    |',
  '                  16 -> 31                   : 0        |                    |',
  '                  32 -> 63                   : 0        |                    |',
  '                  64 -> 127                  : 0        |                    |',
  '                 128 -> 255                  : 0        |                    |',
  '                 256 -> 511                  : 0        |                    |',
  '                 512 -> 1023                 : 0        |                    |',
  '                1024 -> 2047                 : 0        |                    |',
  '                2048 -> 4095                 : 0        |                    |',
  '                4096 -> 8191                 : 0        |                    |',
  '                8192 -> 16383                : 0        |                    |',
  '               16384 -> 32767                : 0        |                    |',
  '               32768 -> 65535                : 0        |                    |',
  '               65536 -> 131071               : 0        |                    |',
  '              131072 -> 262143               : 0        |                    |',
  '              262144 -> 524287               : 0        |                    |',
  '              524288 -> 1048575              : 0        |                    |',
  '             1048576 -> 2097151              : 0        |                    |',
  '             2097152 -> 4194303              : 0        |                    |',
  '             4194304 -> 8388607              : 0        |                    |',
  '             8388608 -> 16777215             : 0        |                    |',
  '            16777216 -> 33554431             : 0        |                    |',
  '            33554432 -> 67108863             : 0        |                    |',
  '            67108864 -> 134217727            : 0        |                    |',
  '           134217728 -> 268435455            : 0        |                    |',
  '           268435456 -> 536870911            : 0        |                    |',
  '           536870912 -> 1073741823           : 0        |                    |',
  '          1073741824 -> 2147483647           : 0        |                    |',
  '          2147483648 -> 4294967295           : 0        |                    |',
  '          4294967296 -> 8589934591           : 0        |                    |',
  '          8589934592 -> 17179869183          : 0        |                    |',
  '         17179869184 -> 34359738367          : 0        |                    |',
  '         34359738368 -> 68719476735          : 2        |*************       |',
  '         68719476736 -> 137438953471         : 0        |                    |',
  '        137438953472 -> 274877906943         : 0        |                    |',
  '        274877906944 -> 549755813887         : 0        |                    |',
  '        549755813888 -> 1099511627775        : 0        |                    |',
  '       1099511627776 -> 2199023255551        : 3        |********************|',
);

const TOP_TAIL = lines(
  ' 2305843009213693952 -> 4611686018427387903  : 0        |                    |',
  ' 4611686018427387904 -> 9223372036854775807  : 1        |**                  |',
  ' 9223372036854775808 -> 18446744073709551615 : 7        |********************|',
);

const LINEAR = lines(
  '     runqlen       : count     distribution',
  '        0          : 0        |                                        |',
  '        1          : 3        |************                            |',
  '        2          : 10       |****************************************|',
  '        3          : 0        |                                        |',
  '        4          : 1        |****                                    |',
);

const enc = new TextEncoder();
const view = (...b: number[]): DataView => new DataView(new Uint8Array(b).buffer);

describe('log2Histogram', () => {
  it('prints two buckets', () => {
    expect(log2Histogram([5, 3], 'usecs')).toBe(
      lines(
        '     usecs               : count     distribution',
        '         0 -> 1          : 5        |****************************************|',
        '         2 -> 3          : 3        |************************                |',
      ),
    );
  });

  it('prints leading empty buckets, not trailing ones (the reference sample)', () => {
    const counts = [0, 0, 0, 0, 18, 1394, 637, 93, 29, 28, 25, 72, 0, 0, 0];
    expect(log2Histogram(counts, 'usecs')).toBe(SAMPLE);
    expect(log2Histogram(counts.map(BigInt), 'usecs')).toBe(SAMPLE);
    // The verbatim lines of the reference doc.
    expect(SAMPLE.split('\n')[0]).toBe('     usecs               : count     distribution');
    expect(SAMPLE).toContain('\n        32 -> 63         : 1394     |****************************************|\n');
  });

  it('accepts BCC slot numbering', () => {
    const counts = [0, 0, 0, 0, 0, 18, 1394, 637, 93, 29, 28, 25, 72];
    expect(log2Histogram(counts, 'usecs', { bccSlots: true })).toBe(SAMPLE);
    // Slot 0 is never printed but still scales the bars, as in BCC.
    expect(log2Histogram([100, 0, 10], 'usecs', { bccSlots: true })).toBe(
      lines(
        '     usecs               : count     distribution',
        '         0 -> 1          : 0        |                                        |',
        '         2 -> 3          : 10       |****                                    |',
      ),
    );
    expect(log2Histogram([9, 0, 0], 'usecs', { bccSlots: true })).toBe('');
  });

  it('strips leading zeros on request', () => {
    expect(log2Histogram([0, 0, 7, 0, 3], 'usecs', { stripLeadingZero: true })).toBe(
      lines(
        '     usecs               : count     distribution',
        '         4 -> 7          : 7        |****************************************|',
        '         8 -> 15         : 0        |                                        |',
        '        16 -> 31         : 3        |*****************                       |',
      ),
    );
  });

  it('prints nothing when every bucket is zero', () => {
    expect(log2Histogram([0, 0, 0], 'usecs')).toBe('');
    expect(log2Histogram([0n, 0n], 'usecs')).toBe('');
    expect(log2Histogram([], 'usecs')).toBe('');
  });

  it('switches to the wide layout past BCC idx_max 32', () => {
    const w = new Array<number>(41).fill(0);
    w[0] = 1;
    w[35] = 2;
    w[40] = 3;
    expect(log2Histogram(w, 'nsecs')).toBe(WIDE);

    const narrow = new Array<number>(32).fill(0);
    narrow[31] = 1; // BCC slot 32: still narrow
    const out31 = log2Histogram(narrow, 'x');
    expect(out31.startsWith('     x                   : count     distribution\n')).toBe(true);
    expect(out31.endsWith('\n2147483648 -> 4294967295 : 1        |****************************************|\n')).toBe(true);

    const wide = new Array<number>(33).fill(0);
    wide[32] = 1; // BCC slot 33: wide
    const out32 = log2Histogram(wide, 'x');
    expect(out32.startsWith('               x                             : count     distribution\n')).toBe(true);
    expect(out32.endsWith('\n          4294967296 -> 8589934591           : 1        |********************|\n')).toBe(true);
  });

  it('prints bounds up to 2^64 - 1 exactly', () => {
    const b = new Array<bigint>(64).fill(0n);
    b[62] = 1n;
    b[63] = 7n;
    const out = log2Histogram(b, 'bytes');
    expect(out.split('\n')).toHaveLength(66);
    expect(out.endsWith(TOP_TAIL)).toBe(true);
  });

  it('draws floor(40 * count / max) stars', () => {
    const out = log2Histogram([1, 39, 40, 79, 80, 3], 'v').split('\n');
    expect(out.slice(1, 7).map((l) => l.slice(l.indexOf('|') + 1, -1).replace(/ +$/, '').length)).toEqual([
      0, 19, 20, 39, 40, 1,
    ]);
    // Huge counts take the bigint path.
    const big = log2Histogram([3_000_000_000_000_000n, 3_000_000_000_000_001n], 'v').split('\n');
    expect(big[1]).toBe('         0 -> 1          : 3000000000000000 |*************************************** |');
    expect(big[2]).toBe('         2 -> 3          : 3000000000000001 |****************************************|');
  });
});

describe('log2HistogramRows', () => {
  it('lists bucket bounds and counts up to the last non-empty bucket', () => {
    expect(log2HistogramRows([0, 5, 0, 2, 0])).toEqual([
      { low: 0, high: 1, count: 0 },
      { low: 2, high: 3, count: 5 },
      { low: 4, high: 7, count: 0 },
      { low: 8, high: 15, count: 2 },
    ]);
    expect(log2HistogramRows([0, 0])).toEqual([]);
    expect(log2HistogramRows([0, 0, 4], { bccSlots: true })).toEqual([
      { low: 0, high: 1, count: 0 },
      { low: 2, high: 3, count: 4 },
    ]);
  });

  it('uses bigint only beyond 2^53 - 1', () => {
    const b = new Array<number>(64).fill(0);
    b[63] = 1;
    const rows = log2HistogramRows(b);
    expect(rows[52]).toEqual({ low: 2 ** 52, high: Number.MAX_SAFE_INTEGER, count: 0 });
    expect(rows[53]).toEqual({ low: 2n ** 53n, high: 2n ** 54n - 1n, count: 0 });
    expect(rows[63]).toEqual({ low: 2n ** 63n, high: 2n ** 64n - 1n, count: 1 });
    expect(jsonLine({ data: rows.slice(63) })).toBe(
      '{"data":[{"low":"9223372036854775808","high":"18446744073709551615","count":1}]}\n',
    );
  });
});

describe('log2Sections', () => {
  it('prints each histogram after "\\n<header> = <label>", in the order given, as BCC prints a keyed table', () => {
    const out = log2Sections(
      [
        { label: '12', buckets: [0, 1] },
        { label: 'empty', buckets: [0, 0] },
        { label: '7', buckets: [2] },
      ],
      'usecs',
      'pid',
    );
    expect(out).toBe(
      '\npid = 12\n' + log2Histogram([0, 1], 'usecs') + '\npid = 7\n' + log2Histogram([2], 'usecs'),
    );
    expect(out.split('\n').slice(0, 5)).toEqual([
      '',
      'pid = 12',
      '     usecs               : count     distribution',
      '         0 -> 1          : 0        |                                        |',
      '         2 -> 3          : 1        |****************************************|',
    ]);
    expect(log2Sections([], 'usecs', 'pid')).toBe('');
  });
});

describe('nsIn and log2HistogramJson', () => {
  it('whole units, truncated', () => {
    expect([nsIn(1999, 'usecs'), nsIn(1999, 'nsecs'), nsIn(2_999_999, 'msecs')]).toEqual([1, 1999, 2]);
  });

  it('fields first, then count, total, average (whole units) and the rows', () => {
    const o = log2HistogramJson({ timestamp: 'T', unit: 'usecs', pid: 5 }, { buckets: [0, 3], count: 3, totalNs: 10_500 }, 'usecs');
    expect(Object.keys(o)).toEqual(['timestamp', 'unit', 'pid', 'count', 'total', 'average', 'buckets']);
    expect(o).toEqual({
      timestamp: 'T',
      unit: 'usecs',
      pid: 5,
      count: 3,
      total: 10,
      average: 3,
      buckets: log2HistogramRows([0, 3]),
    });
    expect(log2HistogramJson({}, { buckets: [], count: 0, totalNs: 0 }, 'msecs').average).toBe(0);
  });
});

describe('log2Slot', () => {
  it('is floor(log2(v)), 0 for 0 and 1', () => {
    expect([0, 1, 2, 3, 4, 7, 8, 1023, 1024].map(log2Slot)).toEqual([0, 0, 1, 1, 2, 2, 3, 9, 10]);
    expect(log2Slot(2 ** 32 - 1)).toBe(31);
    expect(log2Slot(2 ** 32)).toBe(32);
    expect(log2Slot(Number.MAX_SAFE_INTEGER)).toBe(52);
    expect(log2Slot(2 ** 53)).toBe(53);
    expect(log2Slot(-5)).toBe(0);
    expect(log2Slot(0n)).toBe(0);
    expect(log2Slot(1n)).toBe(0);
    expect(log2Slot(5n)).toBe(2);
    expect(log2Slot(2n ** 53n - 1n)).toBe(52);
    expect(log2Slot(2n ** 64n - 1n)).toBe(63);
  });
});

describe('linearHistogram', () => {
  it('prints like print_linear_hist', () => {
    expect(linearHistogram([0, 3, 10, 0, 1, 0, 0], 'runqlen')).toBe(LINEAR);
    expect(linearHistogram([0, 3, 10, 0, 1, 0, 0].map(BigInt), 'runqlen')).toBe(LINEAR);
  });

  it('strips leading zeros only on request', () => {
    expect(linearHistogram([0, 3, 10, 0, 1, 0, 0], 'runqlen', 0, 1, { stripLeadingZero: true })).toBe(
      LINEAR.split('\n').filter((_, i) => i !== 1).join('\n'),
    );
  });

  it('labels rows base + i * step', () => {
    expect(linearHistogram([2, 0, 1], 'ms', 100, 10)).toBe(
      lines(
        '     ms            : count     distribution',
        '        100        : 2        |****************************************|',
        '        110        : 0        |                                        |',
        '        120        : 1        |********************                    |',
      ),
    );
  });

  it('prints nothing when every bucket is zero', () => {
    expect(linearHistogram([0, 0], 'runqlen')).toBe('');
  });
});

describe('escapeControl', () => {
  it('returns the same string when nothing needs escaping', () => {
    const s = '/usr/bin/caf\u00e9 \u{1f600} \u{10080} slash/';
    expect(escapeControl(s)).toBe(s);
    expect(escapeControl('')).toBe('');
  });

  it('escapes C0 and DEL as \\xNN (\\n \\t \\r), C1 as \\u00NN, the backslash as \\\\', () => {
    expect(escapeControl('a\nb\tc\rd')).toBe('a\\nb\\tc\\rd');
    expect(escapeControl('\x1b[31mred\x1b[0m')).toBe('\\x1b[31mred\\x1b[0m');
    expect(escapeControl('\x00\x7f\x80\x9f\xa0')).toBe('\\x00\\x7f\\u0080\\u009f\xa0');
    expect(escapeControl('\\n\n')).toBe('\\\\n\\n');
    expect(escapeControl('back\\slash')).toBe('back\\\\slash');
  });

  it('is unambiguous: the four characters \\xff, the byte 0xff and U+00FF print differently', () => {
    const byte = decodeUtf8(new Uint8Array([0xff]));
    const shown = [escapeControl('\\xff'), escapeControl(byte), escapeControl('\u00ff'), escapeControl('\x80'), escapeControl(decodeUtf8(new Uint8Array([0x80])))];
    expect(shown).toEqual(['\\\\xff', '\\xff', '\u00ff', '\\u0080', '\\x80']);
    expect(new Set(shown).size).toBe(shown.length);
    // a surrogate pair's low half is text, not a byte
    expect(escapeControl('\u{10080}\udc80')).toBe('\u{10080}\\x80');
  });
});

describe('decode', () => {
  it('cstring stops at NUL or max bytes', () => {
    const v = view(...enc.encode('bash'), 0, 0x41, 0x42);
    expect(cstring(v, 0, 16)).toBe('bash');
    expect(cstring(v, 0, 2)).toBe('ba');
    expect(cstring(v, 5, 16)).toBe('AB'); // runs to the end of the view
    expect(cstring(v, 4, 16)).toBe('');
    const long = 'x'.repeat(300);
    expect(cstring(view(...enc.encode(long), 0), 0, 4096)).toBe(long);
  });

  it('cstring reads within a DataView at a byte offset', () => {
    const buf = new Uint8Array([0xff, 0x63, 0x61, 0x74, 0, 0xff]);
    expect(cstring(new DataView(buf.buffer, 1, 4), 0, 16)).toBe('cat');
  });

  it('keeps valid multibyte text unchanged', () => {
    for (const s of ['caf\u00e9', '\u{1f600} smile', '\ufeffbom', '\ufffd literal']) {
      expect(cstring(view(...enc.encode(s), 0), 0, 64)).toBe(s);
    }
  });

  it('renders each byte NN of invalid UTF-8 as the lone surrogate U+DCNN; rawBytes gives the bytes back', () => {
    expect(cstring(view(0x61, 0xff, 0x62, 0), 0, 16)).toBe('a\udcffb');
    // Truncated 3-byte sequence, then one cut off by the end of the string.
    expect(cstring(view(0xe2, 0x82, 0x41, 0xe2, 0x82), 0, 16)).toBe('\udce2\udc82A\udce2\udc82');
    // Same as Python's bytes.decode('utf-8', 'surrogateescape').
    const bad = [
      0xef, 0xbb, 0xbf, 0x61, 0xff, 0xe2, 0x82, 0x41, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xc0, 0xaf, 0xf0,
      0x9f, 0x98, 0x80,
    ];
    const s = decodeUtf8(new Uint8Array(bad));
    expect(s).toBe('\ufeffa\udcff\udce2\udc82A\udced\udca0\udc80\udcf4\udc90\udc80\udc80\udcc0\udcaf\u{1f600}');
    expect([...rawBytes(s)]).toEqual(bad);
    expect(hasRawBytes(s)).toBe(true);
    expect(hasRawBytes('\\xff \u{10080}')).toBe(false);
    expect(rawBytes('caf\u00e9 \\xff')).toEqual(Buffer.from('caf\u00e9 \\xff'));
  });

  it("bytes is a copy (a record's memory is reused by the next batch); bytesView is a view", () => {
    const buf = new Uint8Array([1, 2, 3, 4, 5]);
    const v = new DataView(buf.buffer, 1);
    const b = bytes(v, 1, 2);
    const view = bytesView(v, 1, 2);
    expect([...b]).toEqual([3, 4]);
    expect([...view]).toEqual([3, 4]);
    buf[2] = 9;
    expect(b[0]).toBe(3);
    expect(view[0]).toBe(9);
    expect(b.buffer).not.toBe(buf.buffer);
    expect(() => bytes(v, 2, 3)).toThrow(RangeError);
    expect(() => bytesView(v, 2, 3)).toThrow(RangeError);
  });

  it('splitCStrings splits an argv block', () => {
    const argv = enc.encode('ls\0-l\0\0/tmp/\xe9');
    expect(splitCStrings(new Uint8Array([...argv, 0]))).toEqual(['ls', '-l', '', '/tmp/\u00e9']);
    expect(splitCStrings(argv)).toEqual(['ls', '-l', '', '/tmp/\u00e9']); // unterminated last
    expect(splitCStrings(new Uint8Array([0x61, 0, 0xff]))).toEqual(['a', '\udcff']);
    expect(splitCStrings(argv, 2)).toEqual(['ls', '-l']);
    expect(splitCStrings(new Uint8Array(0))).toEqual([]);
  });
});

describe('columns', () => {
  it('pads without truncating, counting UTF-8 bytes like printb', () => {
    expect(pad('bash', 6) + '|').toBe('bash  |');
    expect(pad('toolongname', 4)).toBe('toolongname');
    expect(padStart('42', 5)).toBe('   42');
    expect(padStart('123456', 5)).toBe('123456');
    expect(pad('\u00e9', 6) + '|').toBe('\u00e9    |'); // b"%-6s" % "é".encode()
    expect(pad('\u{1f600}', 6) + '|').toBe('\u{1f600}  |');
  });

  it('fmtFixed matches Python %.Nf', () => {
    const cases: [number, number, string][] = [
      [0.0625, 3, '0.062'],
      [0.0635, 3, '0.064'],
      [1.0005, 3, '1.000'],
      [2.5, 0, '2'],
      [3.5, 0, '4'],
      [-0, 3, '-0.000'],
      [-0.0001, 3, '-0.000'],
      [1e21, 2, '1000000000000000000000.00'],
      [0.1875, 3, '0.188'],
      [1234.5678, 3, '1234.568'],
      [0.0009765625, 9, '0.000976562'],
      [123456.000244140625, 11, '123456.00024414062'],
      [NaN, 3, 'nan'],
      [-Infinity, 3, '-inf'],
    ];
    for (const [n, d, s] of cases) expect(fmtFixed(n, d)).toBe(s);
  });

  it('hhmmss is local HH:MM:SS', () => {
    expect(hhmmss(new Date(2024, 0, 2, 3, 4, 5))).toBe('03:04:05');
    expect(hhmmss(new Date(2024, 0, 2, 23, 59, 10))).toBe('23:59:10');
    expect(hhmmss()).toMatch(/^\d\d:\d\d:\d\d$/);
  });
});

describe('jsonLine', () => {
  it('converts bigints (always decimal strings), byte arrays, dates, maps and sets', () => {
    const line = jsonLine({
      pid: 42n,
      ts: 18446744073709551615n,
      neg: -5n,
      raw: new Uint8Array([0, 0xab, 0xff]),
      buf: Buffer.from([1, 2]),
      nested: [{ n: 1n }],
      at: new Date(Date.UTC(2026, 11, 5, 8, 0, 0, 123)),
      map: new Map([[7, 8n]]),
      set: new Set([1n]),
      gone: undefined,
    });
    expect(line).toBe(
      '{"pid":"42","ts":"18446744073709551615","neg":"-5","raw":"00abff","buf":"0102","nested":[{"n":"1"}],' +
        '"at":"2026-12-05T08:00:00.123Z","map":{"7":"8"},"set":["1"]}\n',
    );
    // A field's JSON type does not depend on its value.
    expect(jsonLine(9007199254740992n)).toBe('"9007199254740992"\n');
    expect(jsonLine(9007199254740991n)).toBe('"9007199254740991"\n');
  });

  it('jsonEvent: plain JSON.stringify works on an event with bigints and round-trips 64-bit values exactly', () => {
    const max = 2n ** 64n - 1n;
    const ev = jsonEvent({ timestamp: 2n ** 53n + 1n, addr: max, neg: -(2n ** 63n), pid: 7, frames: [{ ip: max - 1n }] });
    expect(isJsonEvent(ev)).toBe(true);
    expect(Object.keys(ev)).toEqual(['timestamp', 'addr', 'neg', 'pid', 'frames']); // toJSON is not a field
    expect({ ...ev }).toEqual({ timestamp: 2n ** 53n + 1n, addr: max, neg: -(2n ** 63n), pid: 7, frames: [{ ip: max - 1n }] });
    const back = JSON.parse(JSON.stringify(ev));
    expect(back).toEqual({ timestamp: '9007199254740993', addr: '18446744073709551615', neg: '-9223372036854775808', pid: 7, frames: [{ ip: '18446744073709551614' }] });
    expect(BigInt(back.timestamp)).toBe(2n ** 53n + 1n);
    expect(BigInt(back.addr)).toBe(max);
    expect(BigInt(back.neg)).toBe(-(2n ** 63n));
    expect(JSON.stringify(ev) + '\n').toBe(jsonLine(ev));
    expect(() => JSON.stringify({ ev })).not.toThrow();
    // A class instance keeps its own prototype.
    class K {
      x = 1n;
    }
    expect(isJsonEvent(jsonEvent(new K()))).toBe(false);
  });

  it('stays parseable for untrusted text; bytes that are not UTF-8 come as U+FFFD plus <key>_bytes (base64)', () => {
    const raw = [0x65, 0x76, 0x69, 0x6c, 0xff, 0xe2, 0x82, 0x0a, 0x1b, 0x22];
    const comm = cstring(view(...raw), 0, 16);
    const line = jsonLine({ pid: 1, comm, n: 2 });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    const o = JSON.parse(line);
    expect(o).toEqual({ pid: 1, comm: 'evil\ufffd\ufffd\ufffd\n\x1b"', comm_bytes: Buffer.from(raw).toString('base64'), n: 2 });
    expect(Object.keys(o)).toEqual(['pid', 'comm', 'comm_bytes', 'n']);
    expect([...Buffer.from(o.comm_bytes, 'base64')]).toEqual(raw);
  });

  it('the literal \\xff and the byte 0xff differ in JSON; valid strings have no _bytes; arrays get an array', () => {
    const literal = '/tmp/\\xff';
    const byte = decodeUtf8(new Uint8Array([...Buffer.from('/tmp/'), 0xff]));
    expect(JSON.parse(jsonLine({ path: literal }))).toEqual({ path: literal });
    expect(JSON.parse(jsonLine({ path: byte }))).toEqual({ path: '/tmp/\ufffd', path_bytes: Buffer.from('/tmp/\xff', 'latin1').toString('base64') });
    expect(JSON.parse(jsonLine({ args: ['ls', byte, literal], more: [{ comm: byte }] }))).toEqual({
      args: ['ls', '/tmp/\ufffd', literal],
      args_bytes: [null, 'L3RtcC//', null],
      more: [{ comm: '/tmp/\ufffd', comm_bytes: 'L3RtcC//' }],
    });
    expect(jsonLine({ s: '\u{10080}' })).toBe('{"s":"\u{10080}"}\n'); // a pair is text
  });
});

describe('fitComm and csvField (BCC tools that print with Python str formatting)', async () => {
  const { fitComm, csvField } = await import('../src/format/index.js');
  it('fitComm: %-N.Ns in code points, escapes kept whole', () => {
    expect(fitComm('abc', 5)).toBe('abc  ');
    expect(fitComm('abcdefghijk', 10)).toBe('abcdefghij');
    expect(fitComm('héllo✓', 10)).toBe('héllo✓    ');
    expect(fitComm('😀abcdefghijk', 10)).toBe('😀abcdefghi');
    expect(fitComm('ab\ncd', 10)).toBe('ab\\ncd    ');
    expect(fitComm('abcdefgh\x1bz', 10)).toBe('abcdefgh  ');
    expect(fitComm('a\\b', 5)).toBe('a\\\\b ');
    expect(fitComm(`ab${decodeUtf8(new Uint8Array([0xff]))}c`, 8)).toBe('ab\\xffc ');
  });
  it('csvField: quoted only with a comma or a quote', () => {
    expect(csvField('a b')).toBe('a b');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('a"b')).toBe('"a""b"');
  });
});

describe('RowBuffer fast paths', async () => {
  const { RowBuffer, printable } = await import('../src/format/rowbuffer.js');
  it('a backslash, a control or a byte past ASCII is left to escapeControl (false), printable ASCII is copied', () => {
    const b = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
    expect(printable(b('/usr/bin/ls -l'), 0, 14)).toBe(true);
    for (const s of ['a\\b', 'a\nb', 'a\xffb', 'a\x7fb']) expect(printable(b(s), 0, 3), JSON.stringify(s)).toBe(false);
    const rows = new RowBuffer(() => true);
    const v = (s: string) => new DataView(b(`${s}\0`).buffer);
    expect(rows.cstring(v('back\\slash'), 0, 16)).toBe(false);
    expect(rows.pos).toBe(0);
    expect(rows.cstring(v('bash'), 0, 16, 6)).toBe(true);
    expect(rows.pos).toBe(6);
  });
});
