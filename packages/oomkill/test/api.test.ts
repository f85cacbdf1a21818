// The oomkill API against real OOM kills: oomhog processes in a memory
// cgroup of 32 MiB that the test creates and removes. The kernel's own
// "Killed process" log line is the reference for the victim's memory.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { oomkill, type OomKill, type Tracer } from '../src/index.js';
import { LIMIT, LOADAVG, MIB, MemCgroup, PAGE, buildHog, kernelKill, startHog, type KernelKill } from './helpers.js';
import { bpfLinks } from '../../../test/support/bpf.js';
import { collect } from '../../../test/support/events.js';
import { killChildren } from '../../../test/support/workload.js';

let hog: string, big: string, small: string;
const open: Tracer<OomKill>[] = [];

beforeAll(() => {
  hog = buildHog('oomhog');
  big = buildHog('oombig');
  small = buildHog('oomsmall');
});

afterEach(async () => {
  for (const t of open.splice(0)) t.close();
  await killChildren();
  await MemCgroup.removeAll();
});

function traced() {
  const t = oomkill();
  open.push(t);
  return collect<OomKill, Tracer<OomKill>>(t);
}

/** The event's memory equals what the kernel logged for the same kill. */
function expectKernelsNumbers(k: OomKill, log: KernelKill): void {
  const { comm: _comm, ...nums } = log;
  expect({
    totalVmKb: (k.totalVmPages * PAGE) / 1024,
    anonRssKb: (k.anonRssPages * PAGE) / 1024,
    fileRssKb: (k.fileRssPages * PAGE) / 1024,
    shmemRssKb: (k.shmemRssPages * PAGE) / 1024,
    uid: k.uid,
    pgtablesKb: Math.floor(k.pgtablesBytes / 1024),
    oomScoreAdj: k.oomScoreAdj,
  }).toEqual(nums);
}

describe('a process that allocates past its cgroup limit', () => {
  it('is reported once, as both trigger and victim, with what it held when killed', async () => {
    const c = traced();
    const cg = new MemCgroup();
    const h = await startHog(hog, cg, 0);
    const k = await c.waitFor((e) => e.pid === h.pid);
    const end = await h.done;
    expect(end.signal).toBe('SIGKILL');

    expect(k).toMatchObject({ triggerPid: h.pid, triggerComm: 'oomhog', pid: h.pid, tid: h.pid, comm: 'oomhog', uid: 0, oomScoreAdj: 0 });
    // Its anonymous memory is charged to the cgroup: near the limit, never above it.
    expect(k.anonRssPages).toBeGreaterThan((LIMIT / 2) / PAGE);
    expect(k.anonRssPages).toBeLessThanOrEqual(LIMIT / PAGE);
    expect(k.rssPages).toBe(k.anonRssPages + k.fileRssPages + k.shmemRssPages);
    expect(k.totalVmPages).toBeGreaterThanOrEqual(k.rssPages);
    expect(k.swapPages).toBe(0);
    expect(k.pgtablesBytes).toBeGreaterThan(0);
    expect(k.loadavg).toMatch(LOADAVG);
    // The kill's time: between the tracer's start and now, on the monotonic clock.
    expect(k.timestamp).toBeLessThanOrEqual(process.hrtime.bigint());

    const log = await kernelKill(h.pid);
    expect(log.comm).toBe('oomhog');
    expectKernelsNumbers(k, log);

    // One kill, one event.
    expect(await c.settled((e) => e.pid === h.pid)).toHaveLength(1);
  });
});

describe('the trigger is not the victim', () => {
  it('a small allocator that hits the limit gets a bigger, idle process killed', async () => {
    const c = traced();
    const cg = new MemCgroup();
    // 20 MiB held, made the preferred victim; then 16 MiB more from another
    // process: 36 > 32.
    const b = await startHog(big, cg, 20, { oomScoreAdj: 500 });
    await b.expectNext('held');
    const s = await startHog(small, cg, 16);
    const ours = (e: OomKill) => e.pid === b.pid || e.pid === s.pid;
    const [k] = await c.waitForCount(ours, 1);
    expect(k).toMatchObject({ triggerPid: s.pid, triggerComm: 'oomsmall', pid: b.pid, comm: 'oombig', oomScoreAdj: 500 });
    expect(k!.anonRssPages).toBeGreaterThanOrEqual((20 * MIB) / PAGE);
    expect(k!.anonRssPages).toBeLessThanOrEqual(LIMIT / PAGE);
    expect((await b.done).signal).toBe('SIGKILL');
    expectKernelsNumbers(k!, await kernelKill(b.pid));
    // The small one then gets its 16 MiB, or, when it faulted again before the
    // kernel had taken back the victim's memory (it cannot be exempted here:
    // no CAP_SYS_RESOURCE for oom_score_adj -1000), is killed in turn, as its
    // own trigger. Either way every kill is reported once.
    const held = await s.next().then((l) => l === 'held', () => false);
    const after = await c.settled(ours);
    if (held) {
      expect(after).toEqual([k]);
    } else {
      expect((await s.done).signal).toBe('SIGKILL');
      expect(after).toHaveLength(2);
      expect(after[1]).toMatchObject({ triggerPid: s.pid, pid: s.pid, comm: 'oomsmall' });
    }
  });
});

describe('a process whose second thread allocates', () => {
  it('the trigger is that thread (its name, the process ID); the victim the process, named after its main thread', async () => {
    const c = traced();
    const h = await startHog(hog, new MemCgroup(), 0, { thread: 'eater' });
    const k = await c.waitFor((e) => e.pid === h.pid);
    // The kernel marks the first thread that still has the memory: the main one.
    expect(k).toMatchObject({ triggerPid: h.pid, triggerComm: 'eater', pid: h.pid, tid: h.pid, comm: 'oomhog' });
    expect((await h.done).signal).toBe('SIGKILL');
    expectKernelsNumbers(k, await kernelKill(h.pid));
  });
});

describe('the tracer', () => {
  it('holds one BPF link while open and none once closed', () => {
    const before = bpfLinks();
    const t = oomkill();
    expect(bpfLinks()).toBe(before + 1);
    t.close();
    expect(bpfLinks()).toBe(before);
  });
});
