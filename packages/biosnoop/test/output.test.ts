// biosnoop's rows without the kernel: records built byte by byte, printed by
// the byte-level writer (Rows.fast) and by the decoded path (decoder →
// Rows.row), which must agree for every column set; and the rows against
// Python's own formatting of BCC's format strings.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { kernelDev, listBlockDevices } from '@ebpf/core';
import { BatchClock, RowBuffer } from '@ebpf/core/kit';
import { decoder } from '../src/index.js';
import { Rows, header, type Flags } from '../src/output.js';
import { EVENT_OFFSETS as AT, EVENT_SIZE, PATTERN_RANDOM, PATTERN_SEQUENTIAL, PATTERN_UNKNOWN } from '../src/biosnoop.gen.js';

// A disk this machine has (its name is looked up, never written to), and a dev_t no device has.
const DISK = listBlockDevices().find((d) => !d.partition)!;
const GONE = (4000 << 20) | 7;

interface Rec {
  ts?: bigint;
  lat?: bigint;
  queue?: bigint;
  queueKnown?: boolean;
  sector?: bigint;
  bytes?: number;
  pid?: number;
  comm?: string;
  dev?: number;
  flags?: number;
  pattern?: number;
}

/** A ring record, at offset 8 of a larger buffer (as records sit in a batch). */
function record(r: Rec): DataView {
  const buf = new ArrayBuffer(8 + EVENT_SIZE + 8);
  const v = new DataView(buf);
  const o = 8;
  v.setBigUint64(o + AT.ts, r.ts ?? 5_000_000_123_456n, true);
  v.setBigUint64(o + AT.lat_ns, r.lat ?? 1_234_567n, true);
  v.setBigUint64(o + AT.queue_ns, r.queue ?? 15_000n, true);
  v.setUint8(o + AT.queue_known, r.queueKnown === false ? 0 : 1);
  v.setBigUint64(o + AT.sector, r.sector ?? 513_505_256n, true);
  v.setUint32(o + AT.bytes, r.bytes ?? 8192, true);
  v.setUint32(o + AT.pid, r.pid ?? 9849, true);
  v.setUint32(o + AT.dev, r.dev ?? kernelDev(DISK), true);
  v.setUint32(o + AT.flags, r.flags ?? 1, true); // BIO_OP_WRITE
  v.setUint8(o + AT.pattern, r.pattern ?? PATTERN_UNKNOWN);
  new Uint8Array(buf, o + AT.comm, 16).set(Buffer.from(r.comm ?? 'biodio'));
  return v;
}

/** What fast() writes for the records (undefined where it declined), and what row() prints, each from one Rows. */
function both(f: Flags, recs: Rec[]): { fast: Array<string | undefined>; row: string[] } {
  const clock = new BatchClock();
  const fastRows = new Rows(f, clock);
  const slowRows = new Rows(f, clock);
  const decode = decoder({ queued: f.queued, pattern: f.pattern });
  const fast: Array<string | undefined> = [];
  const row: string[] = [];
  for (const r of recs) {
    const view = record(r);
    let out = '';
    const buf = new RowBuffer((chunk) => ((out += chunk.toString()), true));
    const ok = fastRows.fast(view, 8, EVENT_SIZE, buf);
    buf.flush();
    fast.push(ok ? out : undefined);
    row.push(slowRows.row(decode(view, 8, EVENT_SIZE)));
  }
  return { fast, row };
}

const FLAGS: Flags[] = [{}, { queued: true }, { pattern: true }, { queued: true, pattern: true }, { timestamp: true, queued: true }];
const RECORDS: Rec[] = [
  {},
  { ts: 5_000_000_123_999n, flags: 0, pattern: PATTERN_SEQUENTIAL, bytes: 4096, sector: 8n },
  { ts: 5_001_234_567_890n, pattern: PATTERN_RANDOM, lat: 999n, queue: 5_000n }, // 0.005 ms: a tie, rounded as Python does
  { ts: 7_000_000_000_000n, pid: 0, comm: '', flags: 2, sector: 0n, bytes: 0, queueKnown: false }, // a flush the kernel made: ? and 0
  { comm: 'kworker/u8:7-ev', pid: 14102 }, // %-14.14s cuts it
  { sector: 2n ** 40n + 3n, bytes: 1 << 20, lat: 12_345_678_901n }, // a sector past 32 bits, a 12 s latency
  { dev: GONE }, // no such device: MAJ:MIN
  { flags: 13 }, // BIO_OP_DRV_IN: N
];

describe('fast rows', () => {
  for (const f of FLAGS) {
    it(`are the decoded rows, byte for byte: ${JSON.stringify(f)}`, () => {
      const { fast, row } = both(f, RECORDS);
      expect(fast).toEqual(row);
    });
  }

  it('decline a comm that needs escaping (the decoded path escapes it)', () => {
    const { fast, row } = both({}, [{ comm: 'a\nb' }]);
    expect(fast).toEqual([undefined]);
    expect(row[0]).toContain(' a\\nb           9849 ');
  });
});

describe("BCC's format strings", () => {
  it('headers and rows are what Python prints for them', () => {
    const disk = DISK.name;
    const py = `
recs = [
  # ts_us, comm, pid, disk, T, sector, bytes, pattern, qdelta_ns, delta_ns
  (5000000123, "biodio", 9849, "${disk}", "W", 513505256, 8192, "?", 15000, 1234567),
  (5000000123, "biodio", 9849, "${disk}", "R", 8, 4096, "S", 15000, 1234567),
  (5001234567, "biodio", 9849, "${disk}", "W", 513505256, 8192, "R", 5000, 999),
  (7000000000, "?", 0, "${disk}", "F", 0, 0, "?", 0, 1234567),
  (5000000123, "kworker/u8:7-ev", 14102, "${disk}", "W", 513505256, 8192, "?", 15000, 1234567),
  (5000000123, "biodio", 9849, "${disk}", "W", ${2 ** 40 + 3}, ${1 << 20}, "?", 15000, 12345678901),
  (5000000123, "biodio", 9849, "4000:7", "W", 513505256, 8192, "?", 15000, 1234567),
  (5000000123, "biodio", 9849, "${disk}", "N", 513505256, 8192, "?", 15000, 1234567),
]
for pattern, queue in [(0, 0), (0, 1), (1, 0), (1, 1)]:
    print("%-11s %-14s %-7s %-9s %-1s %-10s %-7s" % ("TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES"), end="")
    if pattern: print("%-1s " % ("P"), end="")
    if queue: print("%7s " % ("QUE(ms)"), end="")
    print("%7s" % "LAT(ms)")
    start_ts = recs[0][0]
    for (ts, comm, pid, disk, t, sector, nbytes, p, q, d) in recs:
        delta = float(ts) - start_ts
        print("%-11.6f %-14.14s %-7s %-9s %-1s %-10s %-7s" % (delta / 1000000, comm, pid, disk, t, sector, nbytes), end="")
        if pattern: print("%-1s " % p, end="")
        if queue: print("%7.2f " % (float(q) / 1000000), end="")
        print("%7.2f" % (float(d) / 1000000))
`;
    const expected = execFileSync('python3', ['-c', py], { encoding: 'utf8' });
    let ours = '';
    for (const f of FLAGS.slice(0, 4)) ours += `${header(f)}\n${both(f, RECORDS).fast.join('')}`;
    expect(ours).toBe(expected);
  });

  it('-t: a TIMESTAMP column, HH:MM:SS.mmm of the I/O', () => {
    expect(header({ timestamp: true })).toBe('TIMESTAMP    COMM           PID     DISK      T SECTOR     BYTES  LAT(ms)');
    const [row] = both({ timestamp: true }, [{}]).row;
    expect(row).toMatch(/^\d\d:\d\d:\d\d\.\d{3} biodio +9849 /);
  });
});
