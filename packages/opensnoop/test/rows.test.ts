// The CLI's byte-level rows (fastRow, output.ts) must print exactly what the
// event formatter (rowFormatter) prints for the decoded event, for every flag
// combination and every kind of record. Records are built here with the
// generated field offsets; no kernel involved.
import { describe, it, expect } from 'vitest';
import { BatchClock, RowBuffer } from '@ebpf/core/kit';
import { decodeOpen } from '../src/index.js';
import { EVENT_OFFSETS as O } from '../src/opensnoop.gen.js';
import { fastRow, rowFormatter, type Flags } from '../src/output.js';

interface Rec {
  ts?: bigint;
  flags?: bigint;
  pid?: number;
  tid?: number;
  uid?: number;
  ret?: number;
  mode?: number;
  dfd?: number;
  syscall?: number;
  status?: number;
  comm?: Buffer;
  path?: Buffer;
  dirs?: Buffer;
}

function record(r: Rec): Buffer {
  const path = r.path ?? Buffer.from('/etc/hostname');
  const dirs = r.dirs ?? Buffer.alloc(0);
  const b = Buffer.alloc(O.data + path.length + dirs.length);
  b.writeBigUInt64LE(r.ts ?? 1_000_000_000n, O.ts);
  b.writeBigUInt64LE(r.flags ?? 0n, O.flags);
  b.writeUInt32LE(r.pid ?? 1234, O.pid);
  b.writeUInt32LE(r.tid ?? 1235, O.tid);
  b.writeUInt32LE(r.uid ?? 0, O.uid);
  b.writeInt32LE(r.ret ?? 3, O.ret);
  b.writeUInt32LE(r.mode ?? 0, O.mode);
  b.writeInt32LE(r.dfd ?? -100, O.dfd);
  b.writeUInt16LE(path.length, O.path_len);
  b.writeUInt16LE(dirs.length, O.dir_len);
  b[O.syscall] = r.syscall ?? 1;
  b[O.status] = r.status ?? 0;
  (r.comm ?? Buffer.from('cat')).copy(b, O.comm, 0, 15);
  path.copy(b, O.data);
  dirs.copy(b, O.data + path.length);
  return b;
}

const EV_PATH_TRUNCATED = 1;
const EV_DIR_TRUNCATED = 4;
const EV_DIR = 16;
const EV_FULL_PATH = 32;
const names = (...n: string[]) => Buffer.from(n.map((x) => `${x}\0`).join(''));

const records: Rec[] = [
  {},
  { ret: -2, path: Buffer.from('nonexistent') },
  { ret: 123456, pid: 4194304, tid: 7, uid: 65534, flags: 0o2001101n },
  { ret: -512, flags: 0o20200002n, comm: Buffer.from('fifteen-chars-x') },
  { comm: Buffer.from('') , path: Buffer.from('') },
  { ts: 1_000_000_001n },
  { ts: 91_234_567_891n },
  { ts: 2n ** 63n - 5n },
  { flags: (1n << 40n) | 0o100n },
  { path: Buffer.from('x'.repeat(4096)), status: EV_PATH_TRUNCATED, ret: -36 },
  { path: Buffer.from('a'.repeat(100)) },
  { path: Buffer.from('tab\there\nnl\x1b[31m\x7f') },
  { path: Buffer.from('héllo ✓ \u0085c1') },
  { path: Buffer.from([0x2f, 0xff, 0xc3, 0x28, 0x41]) },
  { path: Buffer.from('/lit\\xff') }, // a backslash: escaped, so the slow path
  { comm: Buffer.from('a\\b'), path: Buffer.from('/x') },
  { path: Buffer.from('f'), dirs: names('back\\slash', 'ok'), status: EV_DIR | EV_FULL_PATH },
  { comm: Buffer.from('a\tb'), path: Buffer.from('/x') },
  { comm: Buffer.from('héllo'), path: Buffer.from('/x') },
  { comm: Buffer.from([0xff, 0x41]), path: Buffer.from('/x') },
  { path: Buffer.from('rel/f'), dirs: names('sub', 'here', 'tmp'), status: EV_DIR | EV_FULL_PATH },
  { path: Buffer.from(''), dirs: names('a'), status: EV_DIR | EV_FULL_PATH },
  { path: Buffer.from('f'), dirs: Buffer.alloc(0), status: EV_DIR | EV_FULL_PATH },
  { path: Buffer.from('f'), dirs: names('deep', 'er'), status: EV_DIR | EV_DIR_TRUNCATED | EV_FULL_PATH },
  { path: Buffer.from('f'), dirs: names('n\nl', 'ok'), status: EV_DIR | EV_FULL_PATH },
  { path: Buffer.from('/abs'), status: EV_FULL_PATH },
  { path: Buffer.from('f'), dirs: names('x'.repeat(255), 'y'.repeat(255)), status: EV_DIR | EV_FULL_PATH },
];

const flagSets: Flags[] = [
  {},
  { timestamp: true },
  { printUid: true },
  { tid: 7 },
  { extendedFields: true },
  { fullPath: true },
  { timestamp: true, printUid: true, tid: 7, extendedFields: true, fullPath: true },
];

/** Packs records as the ring reader hands them over: [len u32][source u32][record], 8-aligned. */
function batch(recs: Buffer[]): { view: DataView; at: Array<[number, number]> } {
  const size = recs.reduce((s, r) => s + ((8 + r.length + 7) & ~7), 0);
  const b = Buffer.alloc(size);
  const at: Array<[number, number]> = [];
  let off = 0;
  for (const r of recs) {
    b.writeUInt32LE(r.length, off);
    r.copy(b, off + 8);
    at.push([off + 8, r.length]);
    off += (8 + r.length + 7) & ~7;
  }
  return { view: new DataView(b.buffer, b.byteOffset, b.byteLength), at };
}

/** Rows as the CLI writes them (runEventCli): fastRow, else (its bytes dropped) decode → rowFormatter, into a RowBuffer. */
function rowWriter(f: Flags, sink: (chunk: Buffer) => boolean) {
  const out = new RowBuffer(sink);
  const clock = new BatchClock();
  const fast = fastRow(f, clock);
  const slow = rowFormatter(f, clock);
  return {
    record(view: DataView, o: number, l: number) {
      const at = out.pos;
      if (fast(view, o, l, out)) return out.endRow();
      out.pos = at; // what the fast row wrote of it is dropped
      out.text(slow(decodeOpen(view, o, l)));
    },
    flush: () => out.flush(),
  };
}

describe('fastRow', () => {
  for (const f of flagSets) {
    it(`prints what rowFormatter prints: ${JSON.stringify(f)}`, () => {
      const { view, at } = batch(records.map(record));
      const expected = rowFormatter(f, new BatchClock());
      let want = '';
      for (const [o, l] of at) want += expected(decodeOpen(view, o, l));
      const chunks: Buffer[] = [];
      const w = rowWriter(f, (c) => {
        chunks.push(Buffer.from(c));
        return true;
      });
      for (const [o, l] of at) w.record(view, o, l);
      w.flush();
      const got = Buffer.concat(chunks).toString('utf8');
      expect(got.split('\n')).toEqual(want.split('\n'));
    });
  }

  it('flushes in chunks of about 64 KiB and keeps rows whole; a kept buffer is not reused', () => {
    const recs = Array.from({ length: 3000 }, (_, i) => record({ pid: i, path: Buffer.from(`/p/${'z'.repeat(i % 90)}`) }));
    const { view, at } = batch(recs);
    const chunks: Buffer[] = [];
    const w = rowWriter({}, (c) => {
      chunks.push(c); // kept: must not be overwritten later
      return false;
    });
    for (const [o, l] of at) w.record(view, o, l);
    w.flush();
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(c[c.length - 1]).toBe(0x0a);
    const lines = Buffer.concat(chunks).toString().split('\n').slice(0, -1);
    expect(lines).toHaveLength(3000);
    lines.forEach((l, i) => expect(l.startsWith(`${String(i).padEnd(6)} cat`)).toBe(true));
  });
});
