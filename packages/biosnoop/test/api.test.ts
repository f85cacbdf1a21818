// The embedding API against the real kernel: O_DIRECT writes and reads of
// known sizes at known sectors (biodio prints each one it did), on loop
// devices the test makes over files in a temporary directory: never a real
// disk. Other processes do block I/O meanwhile (on other disks), so events
// are picked by the workload's pid or the loop device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, findBlockDevice } from '@ebpf/core';
import { biosnoop, type BiosnoopOptions, type BlockIo } from '../src/index.js';
import { COMM, aioReads, dio, ioKey, loopDevice, seqReads, type Io, type Loop } from './helpers.js';
import { collect } from '../../../test/support/events.js';
import { bpfLinks } from '../../../test/support/bpf.js';
import { waitFor } from '../../../test/support/wait.js';

let loop: Loop; // no I/O scheduler: requests go straight from the submitter to the driver
let queued: Loop; // mq-deadline: requests are inserted, queued, then dispatched
let other: Loop;
beforeAll(() => {
  loop = loopDevice();
  queued = loopDevice('mq-deadline');
  other = loopDevice();
});
afterAll(() => {
  for (const l of [loop, queued, other]) l?.cleanup();
});

/**
 * Traces while biodio does `writes` writes then `reads` reads on `l`; every
 * event of its pid on that disk once all have come. (Its pid alone is not
 * enough: its first run may page its own binary in from the root disk, a
 * real read by it, elsewhere.)
 */
async function traced(l: Loop, opts: BiosnoopOptions = {}, writes = 24, reads = 24) {
  const t0 = process.hrtime.bigint();
  const cap = collect(biosnoop(opts));
  try {
    const { pid, ios } = await dio(l, writes, reads);
    const mine = (e: BlockIo) => e.pid === pid && e.disk.name === l.disk;
    await cap.waitForCount(mine, ios.length);
    const events = await cap.settled(mine);
    return { pid, ios, events, all: cap.events, t0, t1: process.hrtime.bigint() };
  } finally {
    cap.close();
  }
}

/**
 * Every I/O of the workload is exactly one event, in the order it was done
 * (each waited for the last): its type, sector and size on the loop device,
 * the operation and flags the kernel gave an O_DIRECT request, issued by
 * the workload, timed within the test.
 */
function expectIos(r: { pid: number; ios: Io[]; events: BlockIo[]; t0: bigint; t1: bigint }, l: Loop): void {
  const dev = findBlockDevice(l.disk)!;
  expect(r.events.map(ioKey)).toEqual(r.ios.map(ioKey));
  for (const e of r.events) {
    expect(e).toMatchObject({ pid: r.pid, comm: COMM, disk: { name: l.disk, major: dev.major, minor: dev.minor } });
    // block/fops.c: an O_DIRECT write is REQ_OP_WRITE | REQ_SYNC | REQ_IDLE, a read REQ_OP_READ | REQ_SYNC
    expect([e.op, e.flags]).toEqual(e.type === 'W' ? ['Write', ['Idle', 'Sync']] : ['Read', ['Sync']]);
    expect(e.latencyNs).toBeGreaterThan(0);
    // issued and completed while the test ran
    expect(e.timestamp - BigInt(e.latencyNs)).toBeGreaterThan(r.t0);
    expect(e.timestamp).toBeLessThan(r.t1);
  }
}

describe('biosnoop()', () => {
  it('each O_DIRECT write and read: the issuing pid and comm, disk, R/W, sector, bytes, latency', async () => {
    const r = await traced(loop);
    expectIos(r, loop);
    for (const e of r.events) {
      expect(e.queueNs).toBeUndefined();
      expect(e.pattern).toBeUndefined();
    }
  });

  it('queued (-Q): the time from the request being made to its issue, within the test', async () => {
    for (const l of [loop, queued]) {
      const r = await traced(l, { queued: true });
      expectIos(r, l);
      for (const e of r.events) {
        expect(e.queueNs).toBeGreaterThanOrEqual(0);
        expect(e.timestamp - BigInt(e.latencyNs) - BigInt(e.queueNs!)).toBeGreaterThan(r.t0);
      }
    }
  });

  it('through an I/O scheduler (inserted, then dispatched): still the issuing process', async () => {
    expectIos(await traced(queued), queued);
  });

  it('the issuer from block_rq_insert/issue, as on kernels before 6.5: the same events, with and without a scheduler', async () => {
    for (const l of [loop, queued]) {
      const r = await traced(l, { insertHook: true, queued: true });
      expectIos(r, l);
      for (const e of r.events) expect(e.queueNs).toBeGreaterThanOrEqual(0);
    }
  });

  it('disk (-d): that disk only; a disk that does not exist is refused before loading', async () => {
    const mine = collect(biosnoop({ disk: `/dev/${loop.disk}` }));
    const all = collect(biosnoop({ disk: other.disk }));
    try {
      const elsewhere = await dio(other, 10, 0);
      await all.waitForCount((e) => e.pid === elsewhere.pid, 10); // traceable, and traced by the other tracer
      const here = await dio(loop, 10, 10);
      await mine.waitForCount((e) => e.pid === here.pid, 20);
      const seen = await mine.settled(() => true);
      expect(seen.every((e) => e.disk.name === loop.disk)).toBe(true);
      expect(seen.filter((e) => e.pid === here.pid).map(ioKey)).toEqual(here.ios.map(ioKey));
      expect((await all.settled(() => true)).every((e) => e.disk.name === other.disk)).toBe(true);
    } finally {
      mine.close();
      all.close();
    }
    expect(() => biosnoop({ disk: 'nosuchdisk' })).toThrow(new UsageError("no such disk 'nosuchdisk'"));
    expect(() => biosnoop({ disk: '../../etc' })).toThrow(UsageError);
  });

  it('pattern (-P): sequential reads continue the last I/O on their disk; the first is unknown; a stride is random', async () => {
    const cap = collect(biosnoop({ pattern: true, disk: other.disk }));
    try {
      const seq = await seqReads(other, 20);
      const events = await cap.waitForCount((e) => e.pid === seq.pid, 20);
      // Only this test does I/O on the loop device: nothing came before on it.
      expect(events.map(ioKey)).toEqual(seq.ios.map(ioKey));
      expect(events.map((e) => e.pattern)).toEqual(['unknown', ...Array(19).fill('sequential')]);
      const strided = await dio(other, 10, 10);
      const got = await cap.waitForCount((e) => e.pid === strided.pid, 20);
      expect(got.map((e) => e.pattern)).toEqual(Array(20).fill('random'));
    } finally {
      cap.close();
    }
  });

  it('minLatencyMs (-m): I/O faster than that is not reported', async () => {
    const slow = collect(biosnoop({ minLatencyMs: 60_000, disk: loop.disk }));
    const all = collect(biosnoop({ disk: loop.disk }));
    try {
      const { pid, ios } = await dio(loop, 10, 10);
      await all.waitForCount((e) => e.pid === pid, ios.length); // they happened, and were traced
      expect(await slow.settled(() => true)).toEqual([]);
    } finally {
      slow.close();
      all.close();
    }
  });

  it('maxInFlight: I/O beyond the in-kernel table is counted by untracked(), never missing silently', async () => {
    // Default table: 16 reads submitted at once are 16 events of the workload.
    const full = collect(biosnoop({ disk: loop.disk }));
    try {
      const { pid, ios } = await aioReads(loop, 16);
      const events = await full.waitForCount((e) => e.pid === pid, 16);
      expect(events.map(ioKey).sort()).toEqual(ios.map(ioKey).sort());
      expect(full.tracer.untracked()).toBe(0);
    } finally {
      full.close();
    }
    // A table of 2: all 16 requests are made (and their issuer looked for)
    // before the first is issued, so at most 2 events name the workload; the
    // rest are events without an issuer (an entry had freed by their issue)
    // or counted as untracked.
    const small = collect(biosnoop({ disk: loop.disk, maxInFlight: 2 }));
    try {
      const { pid, ios } = await aioReads(loop, 16);
      expect(await waitFor(() => (small.tracer.flush(), small.events.length + small.tracer.untracked() >= 16))).toBe(true);
      const events = await small.settled(() => true);
      expect(events.length + small.tracer.untracked()).toBe(16);
      expect(events.filter((e) => e.pid === pid).length).toBeLessThanOrEqual(2);
      for (const e of events) {
        expect(e.pid === pid || e.pid === undefined).toBe(true);
        expect(ios.map(ioKey)).toContain(ioKey(e));
      }
    } finally {
      small.close();
    }
  });

  it('bad options are UsageErrors, thrown before anything loads', () => {
    expect(() => biosnoop({ minLatencyMs: -1 })).toThrow(UsageError);
    expect(() => biosnoop({ maxInFlight: 0 })).toThrow(UsageError);
    expect(() => biosnoop({ ringBytes: 1000 })).toThrow(UsageError);
    expect(() => biosnoop({ disk: 7 as unknown as string })).toThrow(new UsageError('disk must be a string'));
    expect(() => biosnoop({ nosuch: true } as BiosnoopOptions)).toThrow(new UsageError("unknown option 'nosuch'"));
  });

  it('close() detaches every probe and frees the object; untracked() and lost() still readable', async () => {
    const before = bpfLinks();
    const trace = biosnoop({ disk: loop.disk });
    expect(bpfLinks()).toBe(before + 5); // io_start, issue, requeue, merge, complete (insert is left unloaded)
    const cap = collect(trace);
    const first = await dio(loop, 5, 5);
    await cap.waitForCount((e) => e.pid === first.pid, 10);
    trace.close();
    expect(trace.object.closed).toBe(true);
    expect(bpfLinks()).toBe(before);
    expect(trace.untracked()).toBe(0);
    expect(trace.lost()).toEqual({ ring: 0 });
  });
});
