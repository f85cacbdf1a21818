// Printed log2 histograms (BCC's print_log2_hist) parsed back, with their
// sections ("pid = 123", "hardirq = virtio0-input.0"), each row checked
// against BCC's exact layout. (Not a test file.)
import { expect } from 'vitest';

export interface PrintedRow {
  low: number;
  high: number;
  count: number;
  bar: string;
}

export interface PrintedHistogram {
  /** The section line above it ("pid = 123" → { name: 'pid', label: '123' }), if any. */
  section?: { name: string; label: string };
  /** The unit in the header (usecs, msecs, nsecs). */
  unit: string;
  rows: PrintedRow[];
  /** The sum of the rows' counts. */
  total: number;
}

const HEADER = /^ {5}(\w+) {2,}: count {5}distribution$|^ {15}(\w+) {2,}: count {5}distribution$/;
const ROW = /^ *(\d+) -> (\d+) +: (\d+) +\|([* ]+)\|$/;
const SECTION = /^(\S+) = (.*)$/;

/** Every histogram in `text`, in order. Throws on a row not in BCC's layout. */
export function parseLog2(text: string): PrintedHistogram[] {
  const out: PrintedHistogram[] = [];
  let cur: PrintedHistogram | undefined;
  let section: PrintedHistogram['section'];
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      const wide = h[2] !== undefined;
      const unit = h[1] ?? h[2]!;
      expect(line).toBe(wide ? `${' '.repeat(15)}${unit.padEnd(29)} : count     distribution` : `     ${unit.padEnd(19)} : count     distribution`);
      cur = { section, unit, rows: [], total: 0 };
      section = undefined;
      out.push(cur);
      continue;
    }
    const r = ROW.exec(line);
    if (r && cur) {
      const row = { low: Number(r[1]), high: Number(r[2]), count: Number(r[3]), bar: r[4]! };
      const w = row.bar.length === 20 ? 20 : 10;
      const expected = `${String(row.low).padStart(w)} -> ${String(row.high).padEnd(w)} : ${String(row.count).padEnd(8)} |${row.bar}|`;
      if (line !== expected) throw new Error(`row not in BCC's layout:\n${line}\n${expected}`);
      cur.rows.push(row);
      cur.total += row.count;
      continue;
    }
    cur = undefined;
    const s = SECTION.exec(line);
    section = s ? { name: s[1]!, label: s[2]! } : undefined;
  }
  return out;
}

/** BCC's rows: consecutive power-of-two buckets from "0 -> 1", bars scaled to the largest count, the last row not empty. */
export function expectLog2Rows(h: PrintedHistogram): void {
  expect(h.rows.length).toBeGreaterThan(0);
  const max = Math.max(...h.rows.map((r) => r.count));
  const width = h.rows[0]!.bar.length;
  h.rows.forEach((r, i) => {
    expect([r.low, r.high]).toEqual([i === 0 ? 0 : 2 ** i, 2 ** (i + 1) - 1]);
    expect(r.bar).toBe('*'.repeat(Math.floor((width * r.count) / max)).padEnd(width));
  });
  expect(h.rows[h.rows.length - 1]!.count).toBeGreaterThan(0);
}

/** The counts of rows whose low bound is at least `low`. */
export function countFrom(h: PrintedHistogram, low: number): number {
  return h.rows.filter((r) => r.low >= low).reduce((a, r) => a + r.count, 0);
}
