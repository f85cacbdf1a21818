// The runqlat API against its workload: every run-queue wait of the
// workload's threads, counted exactly (the kernel's context-switch counts
// say how many there were), in the right histogram and the right unit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '@ebpf/core';
import { runqlat, type Histogram, type Runqlat, type RunqlatOptions, type Snapshot } from '../src/index.js';
import { Rqwork, buildRqwork, onlyChild, pidnsOf, processSwitches, switches, threadsOffCpu } from './helpers.js';
import { bpfFdTargets } from '../../../test/support/bpf.js';
import { iterate } from '../../../test/support/events.js';
import { thrown } from '../../../test/support/wait.js';

let bin: string;
const open: Runqlat[] = [];

beforeAll(() => {
  bin = buildRqwork();
});

afterAll(async () => {
  for (const r of open) r.stop();
  await Rqwork.stopAll();
});

function trace(opts: RunqlatOptions): Runqlat {
  const r = runqlat(opts);
  open.push(r);
  return r;
}

/** The histogram keyed `key` = `id` in the snapshot (undefined if none). */
const find = (s: Snapshot, key: 'pid' | 'tid' | 'pidns', id: number): Histogram | undefined => s.histograms.find((h) => h[key] === id);

/** The buckets' sum and the count agree; the buckets are counts. */
function expectConsistent(h: Histogram): void {
  expect(h.buckets.reduce((a, b) => a + b, 0)).toBe(h.count);
  expect(h.buckets[h.buckets.length - 1]).toBeGreaterThan(0);
  expect(h.totalNs).toBeGreaterThan(0);
}

/**
 * `count` waits where the kernel says `expected` happened: exactly, less
 * only the waits the tracer reports it could not count (the task storage
 * busy on a CPU in another tool's BPF program). That includes switch-ins no
 * tracer sees (see 4. in runqlat.bpf.c).
 */
function expectWaits(count: number, expected: number, rq: Runqlat): void {
  expect(count).toBeLessThanOrEqual(expected);
  expect(count).toBeGreaterThanOrEqual(expected - rq.lost());
}

/** Sum of counts over buckets from index `i` on. */
const from = (h: Histogram, i: number): number => h.buckets.slice(i).reduce((a, b) => a + b, 0);

// Both sets of programs (see 5. in runqlat.bpf.c): tp_btf (the default) and raw_tp.
describe.each([
  { name: 'tp_btf', flavor: {} },
  { name: 'raw_tp', flavor: { rawTracepoints: true } },
])('counts ($name): one per run-queue wait', ({ flavor }) => {
  it('perThread: each new thread waited exactly as often as the kernel switched it out', async () => {
    const rq = trace({ ...flavor, perThread: true });
    const w = await Rqwork.start(bin);
    const tids = await w.pingpong(2000);
    const expected = tids.map((t) => switches(w.pid, t));
    const s = rq.close()!;
    tids.forEach((t, i) => {
      const h = find(s, 'tid', t)!;
      expect(h, `tid ${t}`).toBeDefined();
      expectWaits(h.count, expected[i]!, rq);
      expectConsistent(h);
    });
    expect(s.unit).toBe('usecs');
    expect(s.count).toBe(s.histograms.reduce((a, h) => a + h.count, 0));
    // Sorted by thread ID, one histogram per key.
    const keys = s.histograms.map((h) => h.tid!);
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('perProcess: the whole process (started after attach), every thread summed', async () => {
    const rq = trace({ ...flavor, perProcess: true });
    const w = await Rqwork.start(bin);
    await w.pingpong(1000);
    await w.pingpong(500);
    const expected = await processSwitches(w.pid);
    const s = rq.close()!;
    const h = find(s, 'pid', w.pid)!;
    expectWaits(h.count, expected, rq);
    expectConsistent(h);
    for (const x of s.histograms) expect(x.tid).toBeUndefined();
  });

  it('pid: only that process, in the kernel: one histogram, its waits since attach exactly', async () => {
    const w = await Rqwork.start(bin);
    // Asleep (waiting for a command) when the tracer attaches: its waits from here on all count.
    const before = await processSwitches(w.pid);
    const rq = trace({ ...flavor, pid: w.pid });
    await w.pingpong(1000);
    const after = await processSwitches(w.pid);
    const s = rq.close()!;
    expect(s.histograms).toHaveLength(1);
    expectWaits(s.count, after - before, rq);
    expect(s.histograms[0]!.pid).toBeUndefined();
    expectConsistent(s.histograms[0]!);
  });

  it('pid with perThread: only that process\'s threads', async () => {
    const w = await Rqwork.start(bin);
    const rq = trace({ ...flavor, pid: w.pid, perThread: true });
    const tids = await w.pingpong(500);
    const s = rq.close()!;
    const all = await threadsOffCpu(w.pid);
    for (const h of s.histograms) expect(all).toContain(h.tid);
    for (const t of tids) expectWaits(find(s, 'tid', t)!.count, switches(w.pid, t), rq);
  });

  it('perPidns: a new PID namespace holds exactly its processes\' waits', async () => {
    const rq = trace({ ...flavor, perPidns: true });
    const u = await Rqwork.start(bin, ['unshare', '--pid', '--fork', '--kill-child']);
    const pid = await onlyChild(u.pid);
    await u.pingpong(500, pid);
    const ns = pidnsOf(pid);
    expect(ns).not.toBe(pidnsOf(process.pid));
    const expected = await processSwitches(pid);
    const s = rq.close()!;
    expectWaits(find(s, 'pidns', ns)!.count, expected, rq);
    expect(find(s, 'pidns', pidnsOf(process.pid))!.count).toBeGreaterThan(0);
  });
});

describe('units: waits behind a real-time thread', () => {
  // rq-woken waits at least 5 ms behind rq-hog, 8 times.
  it('microseconds by default: 8 waits of 4096 us or more', async () => {
    const w = await Rqwork.start(bin);
    const rq = trace({ pid: w.pid, perThread: true });
    const [, woken] = await w.delay(8, 5);
    const h = find(rq.close()!, 'tid', woken)!;
    expectWaits(h.count, switches(w.pid, woken), rq);
    expect(from(h, 12)).toBeGreaterThanOrEqual(8); // bucket 12: 4096..8191 us
    expect(h.totalNs).toBeGreaterThanOrEqual(8 * 5e6);
  });

  it('milliseconds: the same waits, 4 ms or more', async () => {
    const w = await Rqwork.start(bin);
    const rq = trace({ pid: w.pid, perThread: true, milliseconds: true });
    const [, woken] = await w.delay(8, 5);
    const s = rq.close()!;
    expect(s.unit).toBe('msecs');
    const h = find(s, 'tid', woken)!;
    expectWaits(h.count, switches(w.pid, woken), rq);
    expect(from(h, 2)).toBeGreaterThanOrEqual(8); // bucket 2: 4..7 ms
    expect(h.buckets.length).toBeLessThan(12);
  });
});

describe('periods', () => {
  it('snapshot() ends a period: what each holds adds up to every wait, none twice', async () => {
    const w = await Rqwork.start(bin);
    const rq = trace({ pid: w.pid });
    const before = await processSwitches(w.pid);
    // Attached before this read? The workload was asleep throughout: yes, both ways.
    const s1 = rq.snapshot();
    await w.pingpong(300);
    const mid = await processSwitches(w.pid);
    const s2 = rq.snapshot();
    await w.pingpong(300);
    const after = await processSwitches(w.pid);
    const s3 = rq.close()!;
    expect(s1.count).toBe(0);
    expectWaits(s2.count, mid - before, rq);
    expectWaits(s3.count, after - mid, rq);
    expect(s2.startNs).toBe(s1.endNs);
    expect(s3.startNs).toBe(s2.endNs);
  });

  it('intervalMs: snapshots while the workload runs lose nothing at the swaps (keyed maps)', async () => {
    const rq = trace({ perThread: true, intervalMs: 50 });
    const it = iterate(rq);
    const w = await Rqwork.start(bin);
    const tids = await w.pingpong(5000);
    const last = rq.close()!;
    expect(await it.ended()).toBe(true);
    const snaps = [...it.seen, last];
    expect(snaps.length).toBeGreaterThan(1);
    for (const t of tids) {
      const total = snaps.reduce((a, s) => a + (find(s, 'tid', t)?.count ?? 0), 0);
      expectWaits(total, switches(w.pid, t), rq);
    }
  });

  it('intervalMs and count: that many snapshots, then it closes itself and lets go of the program', async () => {
    const before = bpfFdTargets();
    const rq = trace({ intervalMs: 100, count: 2 });
    const it = iterate(rq);
    expect(await it.ended()).toBe(true);
    expect(it.seen).toHaveLength(2);
    expect(rq.closed).toBe(true);
    expect(bpfFdTargets()).toEqual(before);
  });
});

describe('option errors: a UsageError before anything loads', () => {
  it('two of perProcess, perThread, perPidns', () => {
    const e = thrown(() => runqlat({ perProcess: true, perThread: true }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe('can only use one of -P, -L and --pidnss');
  });
  it('a pid that is not a live process, a bad type', () => {
    expect(thrown(() => runqlat({ pid: 99999999 }))).toBeInstanceOf(UsageError);
    expect(thrown(() => runqlat({ pid: 'x' as unknown as number }))).toBeInstanceOf(UsageError);
    expect(thrown(() => runqlat({ milliseconds: 1 as unknown as boolean }))).toBeInstanceOf(UsageError);
  });
});
