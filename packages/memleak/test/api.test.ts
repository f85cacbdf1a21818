// The memleak API against real workloads: exact bytes and counts per stack,
// by the function that allocated, in user mode (-p, -c) and kernel mode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '@ebpf/core';
import { decode, kernelEmulates } from '../src/attach-point.js';
import { memleak, type Memleak, type Report, type TraceEvent } from '../src/index.js';
import { Workload, buildWorkloads, stacksOf } from './helpers.js';
import { tempDir, type TempDir } from '../../../test/support/tmp.js';
import { sleep } from '../../../test/support/wait.js';
import { start } from '../../../test/support/workload.js';

let bins: ReturnType<typeof buildWorkloads>;
let tmp: TempDir;
const open: Memleak[] = [];
const workloads: Workload[] = [];

beforeAll(() => {
  bins = buildWorkloads();
  tmp = tempDir('memleak-test-');
});

afterAll(async () => {
  for (const m of open) await m.close();
  for (const w of workloads) await w.stop();
  tmp?.cleanup();
});

async function trace(mode: string, leaks: number, size: number, tidy = 0, opts: Parameters<typeof memleak>[0] = {}) {
  const w = await Workload.start(bins.workload, mode, leaks, size, tidy);
  workloads.push(w);
  const ml = await memleak({ pid: w.pid, olderMs: 0, top: 50, ...opts });
  open.push(ml);
  return { w, ml };
}

/** The one stack naming `fn`. */
function only(r: Report, fn: string) {
  const s = stacksOf(r, fn);
  expect(s, `stacks naming ${fn}`).toHaveLength(1);
  return s[0]!;
}

describe('user mode (-p)', () => {
  it('reports the leaking stack with exactly LEAKS x SIZE bytes and LEAKS allocations, and nothing of what was freed', async () => {
    const LEAKS = 13;
    const SIZE = 4321;
    const { w, ml } = await trace('basic', LEAKS, SIZE, 200);
    expect(ml.mode).toBe('user');
    expect(ml.pid).toBe(w.pid);
    expect(ml.library?.path).toMatch(/\/libc[.-][^/]*$/);
    await w.go();
    const r = ml.report();
    const s = only(r, 'memleak_test_leak');
    expect([s.bytes, s.allocations, s.lost]).toEqual([LEAKS * SIZE, LEAKS, false]);
    // Innermost first: the leaking function, called from main (frame pointers).
    expect(s.frames[0]).toMatchObject({ name: 'memleak_test_leak', module: 'workload' });
    expect(s.frames[0]!.text).toMatch(/^memleak_test_leak\+0x[0-9a-f]+ \[workload\]$/);
    expect(s.frames[1]).toMatchObject({ name: 'main', module: 'workload' });
    expect(stacksOf(r, 'memleak_test_tidy')).toEqual([]);
    // Nothing else is outstanding: stdout is unbuffered, everything else freed.
    expect([r.totalBytes, r.totalAllocations, r.totalStacks]).toEqual([LEAKS * SIZE, LEAKS, 1]);
    expect(ml.lost()).toEqual({ allocs: 0, stacks: 0, combined: 0, events: 0 });
    // The same books, kept in the kernel per stack (--combined-only's source).
    await ml.close();
  });

  it('a workload that frees everything leaves no stack', async () => {
    const { w, ml } = await trace('basic', 0, 100, 500);
    await w.go();
    const r = ml.report();
    expect(stacksOf(r, 'memleak_test_tidy')).toEqual([]);
    expect(stacksOf(r, 'memleak_test_leak')).toEqual([]);
    expect(r.totalAllocations).toBe(0);
  });

  it('every allocator function, once each; the freed copies and a failed realloc accounted exactly', async () => {
    const { w, ml } = await trace('every', 0, 0);
    await w.go();
    const r = ml.report();
    const expected: Record<string, number> = {
      leak_malloc: 1001,
      leak_calloc: 17 * 59,
      leak_realloc: 1005,
      leak_posix_memalign: 1007,
      leak_aligned_alloc: 1088,
      leak_memalign: 1009,
      leak_valloc: 1011,
      leak_pvalloc: 1013,
      leak_mmap: 3 * 4096,
      // glibc serves it with mmap() inside malloc(): one block, malloc's.
      leak_big_malloc: 1 << 20,
      // realloc() failed: the old block is still there.
      leak_realloc_failed: 1017,
    };
    for (const [fn, bytes] of Object.entries(expected)) {
      const s = only(r, fn);
      expect([fn, s.bytes, s.allocations]).toEqual([fn, bytes, 1]);
    }
    expect(r.totalAllocations).toBe(Object.keys(expected).length);
    expect(r.totalBytes).toBe(Object.values(expected).reduce((a, b) => a + b, 0));
  });

  it('-z / -Z: only the sizes asked for are recorded', async () => {
    const SIZE = 100;
    {
      const { w, ml } = await trace('sizes', 3, SIZE, 0, { minSize: 1000 });
      await w.go();
      const r = ml.report();
      expect(stacksOf(r, 'memleak_test_small')).toEqual([]);
      expect(only(r, 'memleak_test_large')).toMatchObject({ bytes: 3 * SIZE * 50, allocations: 3 });
    }
    {
      const { w, ml } = await trace('sizes', 3, SIZE, 0, { maxSize: 1000 });
      await w.go();
      const r = ml.report();
      expect(only(r, 'memleak_test_small')).toMatchObject({ bytes: 3 * SIZE, allocations: 3 });
      expect(stacksOf(r, 'memleak_test_large')).toEqual([]);
    }
    {
      const { w, ml } = await trace('sizes', 3, SIZE, 0, { minSize: SIZE, maxSize: SIZE });
      await w.go();
      expect(ml.report().totalAllocations).toBe(3);
    }
  });

  it('combinedOnly: the in-kernel per-stack totals match', async () => {
    const { w, ml } = await trace('basic', 7, 333, 100, { combinedOnly: true });
    await w.go();
    const r = ml.report();
    expect(r.combined).toBe(true);
    expect(only(r, 'memleak_test_leak')).toMatchObject({ bytes: 7 * 333, allocations: 7 });
    expect(stacksOf(r, 'memleak_test_tidy')).toEqual([]);
    expect([r.totalBytes, r.totalAllocations]).toEqual([7 * 333, 7]);
  });

  it('perf-event uprobes (kernels without uprobe_multi): the same books', async () => {
    const { w, ml } = await trace('every', 0, 0, 0, { uprobeMulti: false });
    await w.go();
    const r = ml.report();
    expect(only(r, 'leak_big_malloc')).toMatchObject({ bytes: 1 << 20, allocations: 1 });
    expect(only(r, 'leak_realloc_failed')).toMatchObject({ bytes: 1017, allocations: 1 });
    expect(r.totalAllocations).toBe(11);
    await ml.close();
  });

  it('threads: every thread of the process is traced', async () => {
    const { w, ml } = await trace('threads', 5, 64);
    await w.go();
    expect(only(ml.report(), 'memleak_test_leak')).toMatchObject({ bytes: 4 * 5 * 64, allocations: 4 * 5 });
  });

  it('-o: allocations younger than olderMs are left out, then counted once old enough', async () => {
    const { w, ml } = await trace('basic', 2, 50, 0, { olderMs: 5000, showAllocs: true });
    await w.go();
    expect(stacksOf(ml.report(), 'memleak_test_leak')).toEqual([]);
    await sleep(300);
    const r = ml.report({ olderMs: 250 });
    expect(only(r, 'memleak_test_leak')).toMatchObject({ bytes: 100, allocations: 2 });
    expect(r.allocations!.every((a) => a.ageMs >= 250 && a.ageMs < 5000)).toBe(true);
  });

  it('-a: the allocations themselves, smallest first', async () => {
    const { w, ml } = await trace('sizes', 2, 40, 0, { showAllocs: true });
    await w.go();
    const r = ml.report();
    const sizes = r.allocations!.map((a) => a.size);
    expect(sizes).toEqual([40, 40, 2000, 2000]);
    const large = only(r, 'memleak_test_large');
    expect(r.allocations!.filter((a) => a.stackId === large.stackId)).toHaveLength(2);
    expect(r.allocations!.every((a) => a.address > 0n && a.ageMs >= 0)).toBe(true);
  });

  it('trace: one event per call, in order, with sizes and addresses', async () => {
    const { w, ml } = await trace('basic', 2, 48, 1, { trace: true });
    const events: TraceEvent[] = [];
    ml.trace!.subscribe((batch) => events.push(...batch));
    await w.go();
    const deadline = Date.now() + 3000;
    while (events.filter((e) => e.kind === 'free').length < 1 && Date.now() < deadline) {
      ml.trace!.flush();
      await sleep(20);
    }
    const mine = events.filter((e) => e.pid === w.pid);
    expect(mine.map((e) => [e.kind, e.size])).toEqual([
      ['alloc-enter', 48],
      ['alloc-exit', 48],
      ['alloc-enter', 48],
      ['alloc-exit', 48],
      ['alloc-enter', 16],
      ['alloc-exit', 16],
      ['free', 16],
    ]);
    expect(mine[6]!.address).toBe(mine[5]!.address);
    expect(mine.every((e) => e.tid === w.pid && e.comm === 'workload')).toBe(true);
  });

  it("puts free()'s probe where the kernel emulates the instruction, and every probe where the library has that function", async () => {
    const { ml } = await trace('basic', 0, 1);
    const byName = new Map(ml.probes.map((p) => [p.function, p]));
    expect([...byName.keys()].sort()).toEqual(
      ['aligned_alloc', 'calloc', 'free', 'malloc', 'memalign', 'mmap', 'munmap', 'posix_memalign', 'pvalloc', 'realloc', 'valloc'],
    );
    const lib = readFileSync(ml.library!.hostPath);
    for (const p of ml.probes) {
      const i = decode(lib, p.offset + p.delta)!;
      // Where we moved the probe, the kernel emulates what it hits.
      if (p.delta > 0) expect([p.function, kernelEmulates(i)]).toEqual([p.function, true]);
    }
    // Debian 12's glibc: free() starts with `test %rdi,%rdi` (single-stepped),
    // then `je` (emulated): the probe goes 3 bytes in.
    const free = byName.get('free')!;
    expect(free.delta).toBeGreaterThan(0);
    expect(free.retprobe).toBe(false);
  });
});

describe('user mode (-c)', () => {
  it('sees allocations made at the very start of main(), in a command that exits at once', async () => {
    const ml = await memleak({ command: [bins.startleak, '3', '777'], olderMs: 0, commandStdio: 'ignore' });
    open.push(ml);
    expect(ml.pid).toBe(ml.child!.pid);
    await ml.targetExited;
    // The process is gone; its mappings were kept: the stack is still named.
    const s = only(ml.report(), 'memleak_test_early');
    expect([s.bytes, s.allocations]).toEqual([3 * 777, 3]);
    expect(s.frames[1]?.name).toBe('main');
  });

  it('a command string is split like BCC splits it; a missing command is a UsageError', async () => {
    const ml = await memleak({ command: `${bins.startleak}  2   55`, olderMs: 0, commandStdio: 'ignore' });
    open.push(ml);
    await ml.targetExited;
    expect(only(ml.report(), 'memleak_test_early')).toMatchObject({ bytes: 110, allocations: 2 });
    await expect(memleak({ command: '/no/such/program 1' })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('exec', () => {
  it('-c through a #! script that execs: the shell\'s blocks go with it, the program\'s are found and named', async () => {
    const script = join(tmp.dir, 'run.sh');
    writeFileSync(script, `#!/bin/sh\nexec ${bins.startleak} 3 41\n`, { mode: 0o755 });
    const ml = await memleak({ command: [script], olderMs: 0, commandStdio: 'ignore' });
    open.push(ml);
    await ml.targetExited;
    const r = ml.report();
    expect(only(r, 'memleak_test_early')).toMatchObject({ bytes: 123, allocations: 3 });
    expect([r.totalAllocations, r.totalBytes]).toEqual([3, 123]);
  });

  it('-p: a process that execs loses its old blocks', async () => {
    const w = start(bins.workload, ['exec', '5', '1000', '0', bins.startleak, '2', '50'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await w.line('ready');
    const ml = await memleak({ pid: w.pid, olderMs: 0 });
    open.push(ml);
    w.write('go\n'); // leaks 5 x 1000, then execs startleak, which leaks 2 x 50
    await ml.targetExited;
    const r = ml.report();
    expect(stacksOf(r, 'memleak_test_leak')).toEqual([]);
    expect([r.totalAllocations, r.totalBytes]).toEqual([2, 100]);
  });
});

describe('kernel mode', () => {
  it('records kernel allocations with kernel stacks', async () => {
    const ml = await memleak({ olderMs: 0, top: 5 });
    open.push(ml);
    expect(ml.mode).toBe('kernel');
    // Cause some: a child process allocates page tables, pages, slab objects.
    const w = await Workload.start(bins.workload, 'basic', 100, 100000);
    await w.go();
    const r = ml.report();
    await w.stop();
    expect(r.stacks.length).toBeGreaterThan(0);
    expect(r.totalAllocations).toBeGreaterThan(0);
    const s = r.stacks.find((x) => !x.lost)!;
    expect(s.frames.length).toBeGreaterThan(1);
    expect(s.frames.every((f) => f.module === 'kernel' || f.module === undefined || /^[\w-]+$/.test(f.module))).toBe(true);
    expect(s.frames.some((f) => f.module === 'kernel' && /^\w+\+0x[0-9a-f]+ \[kernel\]$/.test(f.text))).toBe(true);
  });
});

describe('options', () => {
  it('bad options are UsageErrors, raised before anything is loaded', async () => {
    const bad: Array<Parameters<typeof memleak>[0]> = [
      { pid: 1, command: 'ls' },
      { minSize: 10, maxSize: 5 },
      { pid: 0 },
      { pid: 4194304 + 1 },
      { top: 0 },
      { sampleRate: 0 },
      { interval: 0 },
      { olderMs: -1 },
      { percpu: true, pid: process.pid },
      { obj: 'c' },
      { command: '' },
    ];
    for (const o of bad) await expect(memleak(o), JSON.stringify(o)).rejects.toBeInstanceOf(UsageError);
    await expect(memleak({ minSize: 10, maxSize: 5 })).rejects.toThrow("min_size (-z) can't be greater than max_size (-Z)");
    await expect(memleak({ pid: process.pid, obj: 'no-such-allocator' })).rejects.toThrow(/maps no libno-such-allocator\.so/);
  });

  it('reports as an async iterable: count of them, then it ends', async () => {
    const w = await Workload.start(bins.workload, 'basic', 1, 10);
    workloads.push(w);
    const ml = await memleak({ pid: w.pid, olderMs: 0, interval: 0.2, count: 2 });
    open.push(ml);
    await w.go();
    const got: Report[] = [];
    for await (const r of ml) got.push(r);
    expect(got).toHaveLength(2);
    expect(only(got[1]!, 'memleak_test_leak')).toMatchObject({ bytes: 10, allocations: 1 });
    await ml.close();
    expect(ml.closed).toBe(true);
    expect(() => ml.report()).toThrow(UsageError);
    await ml.close(); // twice is fine
  });
});
