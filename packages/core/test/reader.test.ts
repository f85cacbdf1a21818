// The readers' batch buffer (src/stream/reader.ts, native/reader.cc): one
// buffer per reader, written over by every drain. These tests prove the reuse
// is safe: a handler sees every record intact across many batches, decoded
// events outlive the batches they came from, a record larger than the
// buffer's spare room moves the reader to a larger buffer, and flush() or
// close() from inside a handler keeps the order.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ObjectSpec, Tracer, UsageError, type BpfObject } from '../src/index.js';
import { bytes } from '../src/format/decode.js';
import { native } from '../src/native/load.js';
import { EVENT_SIZE, decodeEvent, type Event } from './bpf/probes.gen.js';
import { BPF_DIST, getppid, loadProbes, sleep, threadComm, thrown, waitFor } from './helpers.js';

const seqs = (events: { seq: bigint }[]): bigint[] => events.map((e) => e.seq);
const range = (from: number, n: number): bigint[] => Array.from({ length: n }, (_, i) => BigInt(from + i));
/** A batch this small holds a few records (48 bytes framed): many batches per test. */
const SMALL_BATCH = 256;

describe('batch buffer reuse', () => {
  it('a raw handler sees every record intact across hundreds of batches, through one reused view', async () => {
    const N = 2000;
    const obj = loadProbes({ magic: 7n });
    try {
      const seen: bigint[] = [];
      const views = new Set<DataView>();
      const buffers = new Set<ArrayBufferLike>();
      let batches = 0;
      let bad = 0;
      const comm = threadComm();
      const ring = obj.ringBuffer(
        'events',
        (view, off, len) => {
          views.add(view);
          buffers.add(view.buffer);
          const e = decodeEvent(view, off, len);
          if (len !== EVENT_SIZE || e.magic !== 7n || e.tgid !== process.pid || e.comm !== comm) bad++;
          seen.push(e.seq);
        },
        { batchBytes: SMALL_BATCH, onBatchEnd: () => batches++ },
      );
      obj.attach('getppid_ring');
      for (let sent = 0; sent < N; ) {
        getppid(100);
        sent += 100;
        expect(await waitFor(() => seen.length >= sent)).toBe(true);
      }
      await sleep(60);
      expect(seen).toEqual(range(0, N));
      expect(bad).toBe(0);
      expect(ring.records).toBe(N);
      expect(batches).toBeGreaterThanOrEqual(N / Math.ceil(SMALL_BATCH / 48));
      // One buffer and one view for the reader's whole life.
      expect(views.size).toBe(1);
      expect(buffers.size).toBe(1);
    } finally {
      obj.close();
    }
  });

  it('decoded events (strings, copied bytes) stay intact after later batches reuse the buffer', async () => {
    const N = 1000;
    const obj = loadProbes({ magic: 0x1122334455667788n });
    type Ev = Event & { raw: Uint8Array };
    const tracer = new Tracer<Ev>({
      object: obj,
      rings: ['events'],
      batchBytes: SMALL_BATCH,
      decode: (v, o, l) => ({ ...decodeEvent(v, o, l), raw: bytes(v, o, l) }),
    });
    try {
      const got: Ev[] = [];
      const consumer = (async () => {
        for await (const ev of tracer) {
          got.push(ev);
          if (got.length === N) break;
        }
      })();
      obj.attach('getppid_ring');
      for (let sent = 0; sent < N; ) {
        getppid(50);
        sent += 50;
        expect(await waitFor(() => got.length >= sent)).toBe(true);
      }
      await consumer;
      // More batches through the same buffer after the events were handed out.
      const later: Event[] = [];
      tracer.subscribe((events) => later.push(...events));
      getppid(300);
      expect(await waitFor(() => later.length >= 300)).toBe(true);

      const comm = threadComm();
      expect(seqs(got)).toEqual(range(0, N));
      for (const ev of got) {
        expect(ev.magic).toBe(0x1122334455667788n);
        expect(ev.comm).toBe(comm);
        expect(ev.raw.byteLength).toBe(EVENT_SIZE);
        expect(ev.raw.buffer.byteLength).toBe(EVENT_SIZE); // its own memory, not the batch's
        const raw = new DataView(ev.raw.buffer, ev.raw.byteOffset, ev.raw.byteLength);
        expect(raw.getBigUint64(0, true)).toBe(ev.seq);
        expect(raw.getBigUint64(8, true)).toBe(ev.magic);
      }
      expect(seqs(later)).toEqual(range(N, 300));
    } finally {
      tracer.close();
    }
  });

  it('flush() from inside a handler delivers the rest of the batch first, then the next, in order', async () => {
    const obj = loadProbes();
    try {
      const seen: bigint[] = [];
      let flushed = -1;
      const ring = obj.ringBuffer(
        'events',
        (view, off, len) => {
          const e = decodeEvent(view, off, len);
          seen.push(e.seq);
          if (e.seq === 2n) {
            getppid(30); // records made while this batch is being read
            flushed = ring.flush();
          }
        },
        { batchBytes: SMALL_BATCH },
      );
      obj.attach('getppid_ring');
      getppid(10);
      expect(await waitFor(() => seen.length >= 40)).toBe(true);
      await sleep(60);
      expect(seen).toEqual(range(0, 40));
      expect(flushed).toBeGreaterThan(0);
      expect(ring.records).toBe(40);
    } finally {
      obj.close();
    }
  });

  it('close() from inside a handler delivers what is left, in order, and no more', async () => {
    const obj = loadProbes();
    try {
      const seen: bigint[] = [];
      const ring = obj.ringBuffer(
        'events',
        (view, off, len) => {
          const e = decodeEvent(view, off, len);
          seen.push(e.seq);
          if (e.seq === 1n) {
            getppid(20);
            ring.close();
          }
        },
        { batchBytes: SMALL_BATCH },
      );
      obj.attach('getppid_ring');
      getppid(5);
      expect(await waitFor(() => ring.closed)).toBe(true);
      expect(seen).toEqual(range(0, 25));
      getppid(5);
      await sleep(60);
      expect(seen).toHaveLength(25);
    } finally {
      obj.close();
    }
  });

  it('perf buffer: every sample intact across many small batches, through one reused view', async () => {
    const N = 1000;
    const obj = loadProbes({ magic: 9n });
    try {
      const seen: bigint[] = [];
      const views = new Set<DataView>();
      let bad = 0;
      const pb = obj.perfBuffer(
        'perf_events',
        (view, off, len) => {
          views.add(view);
          const e = decodeEvent(view, off, len);
          if (e.magic !== 9n || e.tgid !== process.pid) bad++;
          seen.push(e.seq);
        },
        { batchBytes: SMALL_BATCH },
      );
      obj.attach('getppid_perf');
      for (let sent = 0; sent < N; ) {
        getppid(100);
        sent += 100;
        expect(await waitFor(() => seen.length >= sent)).toBe(true);
      }
      await sleep(60);
      expect(seen.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(range(0, N));
      expect(bad).toBe(0);
      expect(pb.lost()).toBe(0);
      expect(views.size).toBe(1);
    } finally {
      obj.close();
    }
  });
});

describe('records larger than the batch buffer', () => {
  const PAYLOAD = 128 * 1024;
  // sizes[n % 16]: small records around two large ones (more than the 64 KiB of
  // spare room past batchBytes) and a mid-size one.
  const SIZES = [64, 100_000, 12, 64, 4096, 70_000, 13, 24, 200, 64, 8000, 64, 64, 64, 65_536, 100];

  function loadBig(): BpfObject {
    const spec = ObjectSpec.fromFile(join(BPF_DIST, 'bigrec.bpf.o'));
    try {
      const sizes = new Uint8Array(SIZES.length * 4);
      const dv = new DataView(sizes.buffer);
      SIZES.forEach((s, i) => dv.setUint32(i * 4, s, true));
      spec.setConfig({ targ_tgid: process.pid, sizes });
      const obj = spec.load();
      // The pattern every record carries past its 12-byte header.
      const pattern = Buffer.alloc(PAYLOAD);
      for (let i = 0; i < PAYLOAD; i++) pattern[i] = (i * 7 + 3) & 0xff;
      obj.map('payload').update(Buffer.alloc(4), pattern);
      return obj;
    } catch (err) {
      spec.close();
      throw err;
    }
  }

  it('are delivered whole: the reader moves to a larger buffer once, and keeps it', async () => {
    const N = 64; // four rounds of SIZES
    const obj = loadBig();
    try {
      const got: { seq: bigint; len: number; ok: boolean }[] = [];
      const views = new Set<DataView>();
      const ring = obj.ringBuffer(
        'records',
        (view, off, len) => {
          views.add(view);
          const seq = view.getBigUint64(off, true);
          let ok = view.getUint32(off + 8, true) === len;
          for (let i = 12; ok && i < len; i++) ok = view.getUint8(off + i) === ((i * 7 + 3) & 0xff);
          got.push({ seq, len, ok });
        },
        { batchBytes: 4096 },
      );
      obj.attach();
      getppid(1); // a small record first, through the buffer the reader started with
      expect(await waitFor(() => got.length >= 1)).toBe(true);
      for (let sent = 1; sent < N; ) {
        const n = Math.min(16, N - sent);
        getppid(n);
        sent += n;
        expect(await waitFor(() => got.length >= sent)).toBe(true);
      }
      await sleep(60);
      expect(got.map((g) => g.seq)).toEqual(range(0, N));
      expect(got.map((g) => g.len)).toEqual(Array.from({ length: N }, (_, i) => SIZES[i % 16]));
      expect(got.every((g) => g.ok)).toBe(true);
      expect(obj.readGlobalInt('records_drops')).toBe(0n);
      // 4096 + 64 KiB of room: the first 100 000-byte record needs more; the
      // larger buffer then holds every later record.
      expect(views.size).toBe(2);
      expect(ring.lost()).toBe(0);
    } finally {
      obj.close();
    }
  });

  it('decoded copies of large records outlive the batches', async () => {
    const obj = loadBig();
    try {
      const kept: Uint8Array[] = [];
      obj.ringBuffer('records', (view, off, len) => kept.push(bytes(view, off, len)), { batchBytes: 4096 });
      obj.attach();
      getppid(32);
      expect(await waitFor(() => kept.length >= 32)).toBe(true);
      kept.forEach((b, i) => {
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        expect(dv.getBigUint64(0, true)).toBe(BigInt(i));
        expect(b.byteLength).toBe(SIZES[i % 16]);
        const last = b.byteLength - 1;
        if (last >= 12) expect(b[last]).toBe((last * 7 + 3) & 0xff);
      });
    } finally {
      obj.close();
    }
  });
});

describe('batch options', () => {
  it('come from TypeScript: checked there, and required by the native reader', () => {
    const obj = loadProbes();
    try {
      expect(thrown(() => obj.ringBuffer('events', () => {}, { batchBytes: 0 }))).toBeInstanceOf(UsageError);
      expect(thrown(() => obj.ringBuffer('events', () => {}, { intervalMs: 1.5 }))).toBeInstanceOf(UsageError);
      expect(thrown(() => obj.perfBuffer('perf_events', () => {}, { batchBytes: -1 }))).toBeInstanceOf(UsageError);
      const fd = obj.map('events').fd;
      const { RingReader } = native();
      const noOptions = RingReader as unknown as new (fds: number[], cb: () => void) => unknown;
      expect(thrown(() => new noOptions([fd], () => {}))).toBeInstanceOf(TypeError);
    } finally {
      obj.close();
    }
  });
});
