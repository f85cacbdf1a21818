// DoubleBufferedMap against the kernel (test/bpf/histmap.bpf.c counts this
// process's getppid() calls into whichever map `current` points at), and
// log2Buckets on plain buffers.
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { CumulativeMap, DoubleBufferedMap, ObjectSpec, UsageError, log2Buckets, type BpfObject } from '../src/index.js';
import { getppid } from './helpers.js';

const HISTMAP = fileURLToPath(new URL('./bpf/dist/histmap.bpf.o', import.meta.url));
const CUMULATIVE = fileURLToPath(new URL('./bpf/dist/cumulative.bpf.o', import.meta.url));
const SLOTS = 8;

let obj: BpfObject | undefined;
afterEach(() => {
  obj?.close();
  obj = undefined;
});

function load(file = HISTMAP): BpfObject {
  const spec = ObjectSpec.fromFile(file);
  spec.setConfig({ targ_tgid: process.pid });
  return spec.load();
}

/** The calls counted in drained entries: key 110, all slots summed. */
function counted(entries: Array<[Buffer, Buffer]>): number {
  let n = 0;
  for (const [k, v] of entries) {
    expect(k.readUInt32LE(0)).toBe(110);
    n += log2Buckets(v, { slots: SLOTS }).reduce((a, b) => a + b, 0);
  }
  return n;
}

describe('DoubleBufferedMap', () => {
  it('swap() returns what the programs counted since the last swap, and empties it', () => {
    obj = load();
    const db = new DoubleBufferedMap(obj, 'current', ['hist_a', 'hist_b']);
    obj.attach();
    expect(db.active.name).toBe('hist_a');
    getppid(1000);
    expect(counted(db.swap())).toBe(1000);
    expect(db.active.name).toBe('hist_b');
    expect(counted(db.swap())).toBe(0);
    expect(db.active.name).toBe('hist_a');
    getppid(37);
    expect(db.peek()).toHaveLength(1);
    expect(counted(db.peek())).toBe(37); // peek leaves it in place
    expect(counted(db.swap())).toBe(37);
    expect(db.maps.every((m) => m.entries().length === 0)).toBe(true);
  });

  it('loses no count across many swaps', () => {
    obj = load();
    const db = new DoubleBufferedMap(obj, 'current', ['hist_a', 'hist_b']);
    obj.attach();
    let total = 0;
    for (let i = 0; i < 20; i++) {
      getppid(250);
      total += counted(db.swap());
    }
    expect(total).toBe(20 * 250);
    expect(total).toBe(Number(obj.readGlobalInt('calls')));
  });

  it('refuses a map that is not a map of maps', () => {
    obj = load();
    expect(() => new DoubleBufferedMap(obj!, 'hist_a', ['hist_a', 'hist_b'])).toThrow(UsageError);
  });
});

describe('CumulativeMap', () => {
  /** [count, sum] of each [key, gain] (u32 key, two u64 words). */
  const gains = (entries: Array<[Buffer, Buffer]>) =>
    entries.map(([k, v]) => [k.readUInt32LE(0), Number(v.readBigUInt64LE(0)), Number(v.readBigUInt64LE(8))]);
  /** The sum of the call numbers from..to. */
  const sum = (from: number, to: number) => ((to - from + 1) * (from + to)) / 2;

  it('take() returns what each entry gained since the last take(), per-CPU slices summed; unchanged entries are left out', () => {
    obj = load(CUMULATIVE);
    const perCpu = new CumulativeMap(obj, 'per_cpu');
    const shared = new CumulativeMap(obj, 'shared');
    obj.attach();
    expect(perCpu.take()).toEqual([]);
    getppid(100);
    expect(gains(perCpu.take())).toEqual([[1, 100, sum(1, 100)]]); // index 0 never changed
    expect(gains(shared.take())).toEqual([[7, 100, sum(1, 100)]]);
    expect(perCpu.take()).toEqual([]);
    getppid(30);
    expect(gains(perCpu.take())).toEqual([[1, 30, sum(101, 130)]]);
    expect(gains(shared.take())).toEqual([[7, 30, sum(101, 130)]]);
    expect(shared.take()).toEqual([]);
  });

  it('loses nothing across many takes', () => {
    obj = load(CUMULATIVE);
    const perCpu = new CumulativeMap(obj, 'per_cpu');
    obj.attach();
    let count = 0;
    for (let i = 0; i < 20; i++) {
      getppid(50);
      for (const [, n] of gains(perCpu.take())) count += n;
    }
    expect(count).toBe(1000);
    expect(count).toBe(Number(obj.readGlobalInt('calls')));
  });

  it('refuses values that are not whole u64 words', () => {
    obj = load();
    expect(() => new CumulativeMap(obj!, 'current')).toThrow(UsageError);
  });
});

describe('log2Buckets', () => {
  const u64s = (xs: number[]) => {
    const b = Buffer.alloc(xs.length * 8);
    xs.forEach((x, i) => b.writeBigUInt64LE(BigInt(x), i * 8));
    return b;
  };

  it('reads u64 slots, drops trailing empty ones, keeps leading ones', () => {
    expect(log2Buckets(u64s([0, 3, 0, 5, 0, 0]), { slots: 6 })).toEqual([0, 3, 0, 5]);
    expect(log2Buckets(u64s([0, 0]), { slots: 2 })).toEqual([]);
  });

  it('u32 slots at an offset, and per-CPU slices summed', () => {
    const b = Buffer.alloc(4 + 3 * 4);
    b.writeUInt32LE(7, 4);
    b.writeUInt32LE(9, 12);
    expect(log2Buckets(b, { offset: 4, slots: 3, slotBytes: 4 })).toEqual([7, 0, 9]);
    expect(log2Buckets([u64s([1, 2]), u64s([10, 0])], { slots: 2 })).toEqual([11, 2]);
  });

  it('a value too short for the layout is an error', () => {
    expect(() => log2Buckets(Buffer.alloc(8), { slots: 2 })).toThrow(UsageError);
  });
});
