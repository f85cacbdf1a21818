// The sigsnoop() API against the real kernel: a workload this test starts
// sends signals every way there is, and the events are checked exactly,
// filtered by the workload's PIDs (other signals on the machine are ignored).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { UsageError } from '@ebpf/core';
import { sigsnoop, type SignalEvent, type SigsnoopOptions } from '../src/index.js';
import { CHILD, brief, capture, expectedFromChildren, expectedFromWorkload, runAll, runBurst, type Capture, type Work } from './helpers.js';
import { bpfFdTargets, bpfLinks } from '../../../test/support/bpf.js';
import { iterate } from '../../../test/support/events.js';
import { sleep } from '../../../test/support/wait.js';
import { cgroupIdOf, containers } from '../../../test/support/container.js';
import { run } from '../../../test/support/workload.js';

const byPid = (w: Work) => (e: SignalEvent) => w.all.includes(e.pid);
const sortKey = (e: ReturnType<typeof brief>) => `${e.pid} ${e.sig} ${e.tpid}`;
const sorted = <T extends ReturnType<typeof brief>>(xs: T[]) => [...xs].sort((x, y) => sortKey(x).localeCompare(sortKey(y)));

describe('every way a signal is sent (one workload, a tracer per filter)', () => {
  // One run of the workload, seen at once by one tracer per filter: each
  // filter's result is compared with the unfiltered events filtered in
  // JavaScript by the same rule. The workload waits, after forking its
  // children, until the tracers filtering on their PIDs are attached.
  const caps = new Map<string, Capture>();
  let w: Work;

  beforeAll(async () => {
    const fixed: Record<string, SigsnoopOptions> = {
      all: {},
      signal: { signal: 12 },
      signal0: { signal: 0 },
      killOnly: { killOnly: true },
      failed: { failed: true },
      failedSyscall: { failed: 'syscall' },
      comm: { comm: CHILD },
      commTruncated: { comm: 'sigwork-child-of-a-longer-name' },
      commExact: { comm: 'sigwork-child' }, // a prefix is not a match
    };
    for (const [name, opts] of Object.entries(fixed)) caps.set(name, capture(opts));
    w = await runAll((p) => {
      caps.set('pid', capture({ pid: p.pid }));
      caps.set('targetA', capture({ targetPid: p.a }));
      caps.set('targetG2', capture({ targetPid: p.g2 }));
      caps.set('targetSelf', capture({ targetPid: p.pid }));
      caps.set('group', capture({ targetPid: -p.g1 }));
      caps.set('targetMissing', capture({ targetPid: p.dead }));
    });
    const want = expectedFromWorkload(w).length + expectedFromChildren(w).length;
    await caps.get('all')!.waitForCount(byPid(w), want);
    await sleep(100);
    for (const c of caps.values()) c.tracer.flush();
  }, 30_000);

  afterAll(() => {
    for (const c of caps.values()) c.close();
  });

  const got = (name: string) => caps.get(name)!.events.filter(byPid(w)).map(brief);
  const all = () => got('all');

  it("the workload's syscalls: one event each, in order, with the signal_generate result folded in", () => {
    expect(all().filter((e) => e.pid === w.pid)).toEqual(expectedFromWorkload(w));
  });

  it("the kernel's own signals: SIGSEGV, and SIGCHLD from each child that died", () => {
    expect(sorted(all().filter((e) => e.pid !== w.pid))).toEqual(sorted(expectedFromChildren(w)));
    // SIGSEGV comes before the SIGCHLD of the same death
    expect(all().filter((e) => e.pid === w.d).map((e) => e.sig)).toEqual([11, 17]);
  });

  it("the workload's steps returned what the events say", () => {
    expect(w.steps.get('kill-esrch')).toBe(-3);
    expect(w.steps.get('pidfd-ebadf')).toBe(-9);
    expect(w.steps.get('pending-second')).toBe(0); // kill() succeeds; only RESULT shows the signal was merged
    expect(w.steps.get('pending-tgkill')).toBe(0); // so does tgkill() onto tkill()'s pending signal
  });

  it('nothing lost; tid is the sender thread', () => {
    for (const c of caps.values()) expect(c.tracer.lost().ring).toBe(0);
    for (const e of caps.get('all')!.events.filter(byPid(w))) {
      // The workload's SIGCHLD to us is sent by whichever of its two threads exits last.
      if (e.pid === w.pid && e.sig === 17) expect([w.pid, w.t]).toContain(e.tid);
      else expect(e.tid).toBe(e.pid);
    }
  });

  it('signal: only that number; 0 selects the kill(pid, 0) probes', () => {
    expect(got('signal')).toEqual(all().filter((e) => e.sig === 12));
    expect(got('signal')).toHaveLength(6); // tkill, kill twice, tkill and tgkill to c, kill(-pgid)
    expect(got('signal0')).toEqual(all().filter((e) => e.sig === 0));
    expect(got('signal0')).toHaveLength(1);
  });

  it("killOnly: every syscall, none of the kernel's signals", () => {
    expect(got('killOnly')).toEqual(all().filter((e) => e.syscall !== null));
    expect(got('killOnly')).toHaveLength(22);
  });

  it('failed: RESULT not 0: failed calls, ignored and already pending signals', () => {
    const want = all().filter((e) => e.result !== 0);
    expect(got('failed')).toEqual(want);
    expect(want.map((e) => e.result).sort((x, y) => x - y)).toEqual([-9, -3, 1, 1, 1, 1, 1, 1, 1, 2, 2]);
  });

  it("failed 'syscall' (killsnoop -x): only calls that returned an error", () => {
    expect(got('failedSyscall').map((e) => [e.syscall, e.ret])).toEqual([
      ['kill', -3],
      ['pidfd_send_signal', -9],
    ]);
  });

  it('comm: exact command name of the sender, compared on the 15 bytes the kernel keeps', () => {
    expect(got('comm')).toEqual(all().filter((e) => e.comm === CHILD));
    expect(got('comm')).toHaveLength(7);
    expect(got('commTruncated')).toEqual(got('comm'));
    expect(got('commExact')).toEqual([]);
  });

  it('pid: only what that process sent', () => {
    expect(got('pid')).toEqual(all().filter((e) => e.pid === w.pid));
    expect(got('pid')).toHaveLength(23);
  });

  it('targetPid: TPID, the process a pidfd names, every process a group kill reached', () => {
    expect(got('targetA')).toEqual(all().filter((e) => e.tpid === w.a));
    expect(got('targetA').map((e) => e.syscall)).toEqual(['kill', 'kill', 'tkill', 'tgkill', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'pidfd_send_signal', 'kill']);
    // g2 was reached by kill(-g1): that event (TPID -g1), then its SIGKILL
    expect(got('targetG2').map((e) => [e.sig, e.tpid])).toEqual([[12, -w.g1], [9, w.g2]]);
    expect(got('group').map((e) => [e.sig, e.tpid, e.generated])).toEqual([[12, -w.g1, 2]]);
    // raise() (tgkill to itself), tgkill to its other thread (the thread
    // group argument matches), and every child's SIGCHLD
    expect(sorted(got('targetSelf'))).toEqual(sorted(all().filter((e) => e.tpid === w.pid || e.tpid === w.t)));
    expect(got('targetSelf')).toHaveLength(8);
    expect(got('targetMissing').map((e) => [e.sig, e.ret])).toEqual([[15, -3]]);
  });
});

describe('cgroupId', () => {
  it("a kill() carries the sender's cgroup id (the directory's inode); outside, this process's", async () => {
    const cg = containers();
    const c = capture();
    try {
      // sh ignores SIGUSR1 and sends it to itself (kill is a builtin: sh is the sender).
      const script = "trap '' USR1; kill -USR1 $$";
      const r = await run(...cg.inCgroup('sh', ['-c', script]));
      const ro = await run('sh', ['-c', script]);
      expect([r.code, ro.code]).toEqual([0, 0]);
      const sent = (pid: number) => (e: SignalEvent) => e.pid === pid && e.syscall === 'kill';
      const ev = await c.waitFor(sent(r.pid));
      expect([ev.sig, ev.tpid, ev.delivery, ev.cgroupId]).toEqual([10, r.pid, 'ignored', cg.cgroupId]);
      const evo = await c.waitFor(sent(ro.pid));
      expect([evo.sig, evo.tpid, evo.cgroupId]).toEqual([10, ro.pid, cgroupIdOf('self')]);
      expect(evo.cgroupId).not.toBe(cg.cgroupId);
    } finally {
      c.close();
      await cg.cleanup();
    }
  });
});

describe('a signal storm', () => {
  it('50 000 kill()s as fast as one process can: every one captured, nothing lost', async () => {
    const c = capture({ signal: 10 });
    try {
      const n = 50_000;
      const b = await runBurst(n);
      const mine = (e: SignalEvent) => e.pid === b.pid && e.sig === 10;
      const evs = await c.waitForCount(mine, n, 15_000);
      await sleep(100);
      c.tracer.flush();
      expect(c.events.filter(mine)).toHaveLength(n);
      expect(c.tracer.lost().ring).toBe(0);
      // each was delivered or merged into the pending one
      const outcome = new Map<string, number>();
      for (const e of evs) outcome.set(String(e.delivery), (outcome.get(String(e.delivery)) ?? 0) + 1);
      expect([...outcome.keys()].sort()).toEqual(
        [...outcome.keys()].filter((k) => k === 'delivered' || k === 'already_pending').sort(),
      );
      expect((outcome.get('delivered') ?? 0) + (outcome.get('already_pending') ?? 0)).toBe(n);
      expect(evs.every((e) => e.tpid === b.child && e.syscall === 'kill' && e.ret === 0)).toBe(true);
    } finally {
      c.close();
    }
  });
});

describe('options and lifecycle', () => {
  it('rejects bad options before loading anything', () => {
    const before = bpfFdTargets();
    const bad: SigsnoopOptions[] = [
      { pid: 0 },
      { pid: -1 },
      { pid: 1.5 },
      { targetPid: 2 ** 31 },
      { targetPid: 4194304 }, // above any pid_max
      { targetPid: -4194304 },
      { signal: 65 },
      { signal: -1 },
      { comm: '' },
      { failed: 'yes' as unknown as boolean },
      { ringBytes: 5000 },
    ];
    for (const o of bad) expect(() => sigsnoop(o), JSON.stringify(o)).toThrow(UsageError);
    expect(bpfFdTargets()).toEqual(before);
  });

  it('close() is idempotent, ends for await after delivering what was buffered, and frees every BPF fd', async () => {
    const before = bpfFdTargets();
    const c = capture({ pid: process.pid });
    expect(bpfLinks()).toBe(13);
    const { seen, ended } = iterate(c.tracer);
    process.kill(process.pid, 0);
    c.close(); // no waiting: close() must still deliver the event already in the ring
    expect(() => c.close()).not.toThrow();
    expect(await ended()).toBe(true);
    expect(seen.filter((e) => e.sig === 0).map((e) => [e.syscall, e.tpid])).toEqual([['kill', process.pid]]);
    expect(bpfFdTargets()).toEqual(before);
    expect(c.tracer.lost()).toEqual({ ring: 0 });
  });
});
