// The offcputime API against a real workload: the off-CPU time of sleeps
// whose total is known, by the function that slept, and every filter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { UsageError } from '@ebpf/core';
import { offcputime, type Offcputime, type OffcputimeOptions } from '../src/index.js';
import { Sleeper, buildSleeper, expectSlept, msIn, stacksOf } from './helpers.js';
import { bpfFdTargets } from '../../../test/support/bpf.js';
import { thrown } from '../../../test/support/wait.js';

let bin: string;
const open: Offcputime[] = [];

beforeAll(() => {
  bin = buildSleeper();
});

afterAll(async () => {
  for (const o of open) o.stop();
  await Sleeper.stopAll();
});

async function traced(opts: (s: Sleeper) => OffcputimeOptions = (s) => ({ pid: s.pid })): Promise<{ s: Sleeper; off: Offcputime }> {
  const s = await Sleeper.start(bin);
  const off = offcputime(opts(s));
  open.push(off);
  return { s, off };
}

/** PF_KTHREAD in /proc/PID/stat's flags: a kernel thread (undefined once it is gone). */
function isKernelThread(pid: number): boolean | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]) & 0x00200000) !== 0;
  } catch {
    return undefined;
  }
}

describe('the time', () => {
  it('ten sleeps of 50 ms: at least 500 ms off-CPU in the function that slept, at most the wall time they took', async () => {
    const { s, off } = await traced();
    const wall = await s.sleep(10, 50);
    const r = off.close()!;
    expectSlept(msIn(r, 'offcputime_test_sleep'), 500, wall);
    // The nanosleep stack: one thread, its comm, user frames innermost first (frame pointers).
    const [main] = stacksOf(r, 'offcputime_test_sleep').sort((a, b) => b.totalNs - a.totalNs);
    expect(main).toMatchObject({ pid: s.pid, tgid: s.pid, comm: 'sleeper', kernelMissed: false, userMissed: false });
    const names = main!.userFrames!.map((f) => f.name);
    expect(names.slice(names.indexOf('offcputime_test_sleep'), names.indexOf('offcputime_test_sleep') + 2)).toEqual(['offcputime_test_sleep', 'main']);
    expect(main!.userFrames!.find((f) => f.name === 'main')!.module).toBe('sleeper');
    // The kernel stack starts in the scheduler, without the tracing program's own frames.
    const k = main!.kernelFrames!.map((f) => f.name);
    expect(k).toContain('schedule');
    expect(k[0]).not.toMatch(/^(bpf_|__bpf_|__traceiter_)/);
    // Every stack is the workload's: -p filters in the kernel.
    for (const st of r.stacks) expect(st.tgid).toBe(s.pid);
    expect(r.totalNs).toBe(r.stacks.reduce((t, x) => t + x.totalNs, 0));
    // Smallest first, as BCC prints.
    for (let i = 1; i < r.stacks.length; i++) expect(r.stacks[i]!.totalNs).toBeGreaterThanOrEqual(r.stacks[i - 1]!.totalNs);
    expect([r.missedStacks, r.dropped]).toEqual([0, 0]);
  });

  it('snapshot() ends a period: the next report has only what came after', async () => {
    const { s, off } = await traced();
    const w1 = await s.sleep(4, 30);
    const r1 = off.snapshot();
    const w2 = await s.sleep(2, 40);
    const r2 = off.snapshot();
    expectSlept(msIn(r1, 'offcputime_test_sleep'), 120, w1);
    expectSlept(msIn(r2, 'offcputime_test_sleep'), 80, w2);
    expect(r2.startNs).toBe(r1.endNs);
    off.close();
  });

  it('intervalMs and count: reports through for await, then it closes', async () => {
    const { s, off } = await traced((s) => ({ pid: s.pid, intervalMs: 200, count: 2 }));
    await s.sleep(1, 10);
    const reports = [];
    for await (const r of off) reports.push(r);
    expect(reports).toHaveLength(2);
    expect(off.closed).toBe(true);
  });
});

describe('filters', () => {
  it('-t: one thread of the process; -p: all of them', async () => {
    const s = await Sleeper.start(bin);
    const all = offcputime({ pid: s.pid });
    const one = offcputime({ tid: s.bgTid });
    open.push(all, one);
    await s.sleep(3, 30);
    const ra = all.close()!;
    const r1 = one.close()!;
    expect(msIn(ra, 'offcputime_test_sleep')).toBeGreaterThanOrEqual(89);
    expect(msIn(ra, 'offcputime_test_background')).toBeGreaterThan(0);
    expect(r1.stacks.length).toBeGreaterThan(0);
    for (const st of r1.stacks) expect([st.pid, st.tgid, st.comm]).toEqual([s.bgTid, s.pid, 'sleeper-bg']);
    expect(stacksOf(r1, 'offcputime_test_background').length).toBeGreaterThan(0);
  });

  it('-U: user stacks only; -K: kernel stacks only', async () => {
    const s = await Sleeper.start(bin);
    const u = offcputime({ pid: s.pid, userStacksOnly: true });
    const k = offcputime({ pid: s.pid, kernelStacksOnly: true });
    open.push(u, k);
    const wall = await s.sleep(2, 30);
    const ru = u.close()!;
    const rk = k.close()!;
    expectSlept(msIn(ru, 'offcputime_test_sleep'), 60, wall);
    for (const st of ru.stacks) expect([st.kernelFrames, st.kernelStackId]).toEqual([undefined, 1n]);
    expect(rk.stacks.length).toBeGreaterThan(0);
    for (const st of rk.stacks) {
      expect([st.userFrames, st.userStackId]).toEqual([undefined, 1n]);
      expect(st.kernelFrames!.length).toBeGreaterThan(0);
    }
  });

  it('-m and -M: blocks outside the bounds are not counted', async () => {
    const s = await Sleeper.start(bin);
    const longer = offcputime({ pid: s.pid, minBlockUs: 40_000 }); // 40 ms: the 50 ms sleeps count
    const tooShort = offcputime({ pid: s.pid, minBlockUs: 500_000 }); // none of them
    const tooLong = offcputime({ pid: s.pid, maxBlockUs: 10_000 }); // 10 ms: none of them
    open.push(longer, tooShort, tooLong);
    const wall = await s.sleep(3, 50);
    const [rl, rs, rm] = [longer.close()!, tooShort.close()!, tooLong.close()!];
    expectSlept(msIn(rl, 'offcputime_test_sleep'), 150, wall);
    for (const st of rl.stacks) expect(st.totalNs).toBeGreaterThanOrEqual(40e6);
    expect(stacksOf(rs, 'offcputime_test_sleep')).toEqual([]);
    expect(stacksOf(rm, 'offcputime_test_sleep')).toEqual([]);
  });

  it('--state: a nanosleep is TASK_INTERRUPTIBLE (1), not TASK_UNINTERRUPTIBLE (2)', async () => {
    const s = await Sleeper.start(bin);
    const interruptible = offcputime({ pid: s.pid, state: 1 });
    const uninterruptible = offcputime({ pid: s.pid, state: 2 });
    open.push(interruptible, uninterruptible);
    const wall = await s.sleep(2, 30);
    const [ri, ru] = [interruptible.close()!, uninterruptible.close()!];
    expectSlept(msIn(ri, 'offcputime_test_sleep'), 60, wall);
    expect(stacksOf(ru, 'offcputime_test_sleep')).toEqual([]);
  });

  it('-u: no kernel threads; -k: kernel threads only, without user stacks', async () => {
    const s = await Sleeper.start(bin);
    const u = offcputime({ userThreadsOnly: true });
    const k = offcputime({ kernelThreadsOnly: true });
    open.push(u, k);
    await s.sleep(2, 30);
    // Kernel threads block all the time (kworkers, rcu, ksoftirqd): wait for one.
    let rk = k.snapshot();
    for (let i = 0; i < 100 && rk.stacks.filter((x) => x.pid !== 0).length === 0; i++) {
      await s.sleep(1, 50);
      rk = k.snapshot();
    }
    const ru = u.close()!;
    expect(msIn(ru, 'offcputime_test_sleep')).toBeGreaterThanOrEqual(59);
    for (const st of ru.stacks) expect(isKernelThread(st.pid), `${st.comm} (${st.pid})`).not.toBe(true);
    const kthreads = rk.stacks.filter((x) => x.pid !== 0); // the idle tasks (pid 0) are kernel threads too
    expect(kthreads.length).toBeGreaterThan(0);
    for (const st of rk.stacks) {
      expect(st.userFrames, st.comm).toEqual([]);
      if (st.pid !== 0) expect(isKernelThread(st.pid), `${st.comm} (${st.pid})`).not.toBe(false);
    }
    expect(stacksOf(rk, 'offcputime_test_sleep')).toEqual([]);
    k.close();
  });
});

describe('nothing lost silently', () => {
  it('a full totals map: the blocks that found no room are counted (dropped)', async () => {
    const { s, off } = await traced((s) => ({ pid: s.pid, maxKeys: 1 }));
    // The sleeps, the wait for the next command, the other thread's naps: several keys, room for one.
    await s.sleep(2, 20);
    await s.spin(1);
    await s.sleep(1, 30);
    const r = off.close()!;
    expect(r.stacks).toHaveLength(1);
    expect(r.dropped).toBeGreaterThan(0);
  });

  it('a stack map with room for one stack: the others are missed, and said to be', async () => {
    const { s, off } = await traced((s) => ({ pid: s.pid, stackStorageSize: 1 }));
    await s.sleep(2, 20);
    const r = off.close()!;
    // A thread's user and kernel stacks of one switch both want the only row.
    expect(r.missedStacks).toBeGreaterThan(0);
    const missed = r.stacks.filter((x) => x.kernelMissed || x.userMissed);
    expect(missed.length).toBeGreaterThan(0);
    for (const x of missed) {
      if (x.kernelMissed) expect([x.kernelStackId, x.kernelFrames]).toEqual([2n, []]);
      if (x.userMissed) expect([x.userStackId, x.userFrames]).toEqual([2n, []]);
    }
  });
});

describe('options and lifetime', () => {
  it('bad options: a UsageError before anything is loaded', () => {
    const before = bpfFdTargets();
    const cases: Array<[OffcputimeOptions, RegExp]> = [
      [{ pid: 1, tid: 1 }, /exclude each other/],
      [{ userThreadsOnly: true, kernelThreadsOnly: true }, /exclude each other/],
      [{ userStacksOnly: true, kernelStacksOnly: true }, /exclude each other/],
      [{ kernelThreadsOnly: true, userStacksOnly: true }, /doesn't make sense/],
      [{ minBlockUs: 0 }, /minBlockUs must be an integer from 1/],
      [{ minBlockUs: 10, maxBlockUs: 5 }, /above the maximum/],
      [{ state: -1 }, /state must be an integer/],
      [{ stackStorageSize: 0 }, /stackStorageSize/],
      [{ pid: 1.5 }, /pid must be an integer/],
      [{ intervalMs: 0 }, /intervalMs/],
      [{ folded: true } as OffcputimeOptions, /unknown option 'folded'/],
    ];
    for (const [o, msg] of cases) {
      const e = thrown(() => offcputime(o));
      expect(e, JSON.stringify(o)).toBeInstanceOf(UsageError);
      expect(e.message, JSON.stringify(o)).toMatch(msg);
    }
    expect(bpfFdTargets()).toEqual(before);
  });

  it('close() frees every program, link and map, and returns the last report once', async () => {
    const s = await Sleeper.start(bin);
    const before = bpfFdTargets();
    const off = offcputime({ pid: s.pid });
    expect(bpfFdTargets().length).toBeGreaterThan(before.length);
    await s.sleep(1, 10);
    expect(off.close()).toBeDefined();
    expect(off.close()).toBeUndefined();
    expect(bpfFdTargets()).toEqual(before);
  });
});
