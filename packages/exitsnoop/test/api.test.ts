// exitsnoop's API against the running kernel: real BPF, real processes
// started here, events matched by PID (the machine may be running other
// workloads at the same time). Ages are checked against bounds that follow
// from the workload (a lower bound it sleeps, the wall time it took), never
// against a timing guess.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { UsageError } from '@ebpf/core';
import { decodeStatus, exitsnoop, type ExitEvent } from '../src/index.js';
import { cSource, capture, corePattern, sh } from './helpers.js';
import { tempDir, type TempDir } from '../../../test/support/tmp.js';
import { sleep } from '../../../test/support/wait.js';
import { compileC, run, start } from '../../../test/support/workload.js';
import { cgroupIdOf, containers } from '../../../test/support/container.js';

let tmp: TempDir;
let bin: { mtexit: string; threadexec: string; abort: string };

beforeAll(() => {
  tmp = tempDir();
  bin = {
    mtexit: compileC(cSource('mtexit'), { flags: ['-pthread'] }),
    threadexec: compileC(cSource('threadexec'), { flags: ['-pthread'] }),
    abort: compileC(cSource('abort')),
  };
});

afterAll(() => tmp?.cleanup());

const of = (pid: number) => (e: ExitEvent) => e.pid === pid;

/** Age within [0, the wall time the run took]: it started after spawn and ended before close. */
function expectAgeWithin(ev: ExitEvent, ms: number): void {
  expect(ev.ageNs >= 0n).toBe(true);
  expect(Number(ev.ageNs) / 1e6).toBeLessThanOrEqual(ms + 2); // Date.now() has 1 ms steps
  expect(ev.ageSeconds).toBe(Number(ev.ageNs) / 1e9);
}

/** Waits until the child has exec'd `comm` (so the comm we expect is the one it dies with). */
async function execd(pid: number, comm: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) {
    if (Date.now() > deadline) throw new Error(`${pid} never became ${comm}`);
    await sleep(5);
  }
}

describe('cgroupId', () => {
  it("an exit carries the exiting task's cgroup id (the directory's inode); outside, this process's", async () => {
    const cg = containers();
    const c = capture();
    try {
      const r = await run(...cg.inCgroup('sh', ['-c', 'exit 5']));
      const ro = await sh('exit 6');
      expect([r.code, ro.code]).toEqual([5, 6]);
      const ev = await c.waitFor(of(r.pid));
      expect([ev.exitCode, ev.cgroupId]).toEqual([5, cg.cgroupId]);
      const evo = await c.waitFor(of(ro.pid));
      expect([evo.exitCode, evo.cgroupId]).toEqual([6, cgroupIdOf('self')]);
      expect(evo.cgroupId).not.toBe(cg.cgroupId);
    } finally {
      c.close();
      await cg.cleanup();
    }
  });
});

describe('exit codes', () => {
  it("sh -c 'exit 3': one event, code 3, exact fields", async () => {
    const c = capture();
    try {
      const t0 = process.hrtime.bigint();
      const r = await sh('exit 3');
      const t1 = process.hrtime.bigint();
      expect(r.code).toBe(3);
      const ev = await c.waitFor(of(r.pid));
      expect(ev).toEqual({
        timestamp: ev.timestamp,
        pid: r.pid,
        tid: r.pid,
        ppid: process.pid,
        comm: 'sh',
        cgroupId: cgroupIdOf('self'),
        ageNs: ev.ageNs,
        ageSeconds: ev.ageSeconds,
        status: 3 << 8,
        exitCode: 3,
        signal: null,
        signalName: null,
        coreDumped: false,
        groupDead: true,
      });
      expect(ev.timestamp > t0 && ev.timestamp < t1).toBe(true); // CLOCK_MONOTONIC
      expectAgeWithin(ev, r.ms);
      expect(await c.settled(of(r.pid))).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  it('exit 0 and exit 255', async () => {
    const c = capture();
    try {
      const r0 = await sh('exit 0');
      const r255 = await sh('exit 255');
      const [e0, e255] = [await c.waitFor(of(r0.pid)), await c.waitFor(of(r255.pid))];
      expect([e0.status, e0.exitCode, e0.signal]).toEqual([0, 0, null]);
      expect([e255.status, e255.exitCode, e255.signal]).toEqual([255 << 8, 255, null]);
    } finally {
      c.close();
    }
  });
});

describe('fatal signals', () => {
  const cases: Array<[NodeJS.Signals | number, number, string]> = [
    ['SIGKILL', 9, 'SIGKILL'],
    ['SIGTERM', 15, 'SIGTERM'],
    ['SIGUSR1', 10, 'SIGUSR1'],
    ['SIGUSR2', 12, 'SIGUSR2'],
    ['SIGIO', 29, 'SIGIO'],
    [36, 36, 'SIGRTMIN+2'],
  ];

  it(`killed by ${cases.map((c) => c[2]).join(', ')}: signal number and name, no core`, async () => {
    const c = capture();
    try {
      for (const [send, num, name] of cases) {
        const s = start('/bin/sleep', ['30']);
        await execd(s.pid, 'sleep');
        // Node's kill() knows no real-time signals: the shell's kill sends those by number.
        if (typeof send === 'number') await run('/bin/sh', ['-c', `kill -${send} ${s.pid}`]);
        else s.proc.kill(send);
        const r = await s.done;
        // (Node reports a real-time signal death as code 0: it has no name for it.)
        if (typeof send === 'string') expect([r.code, r.signal], name).toEqual([null, send]);
        const ev = await c.waitFor(of(s.pid));
        expect([ev.comm, ev.tid, ev.ppid, ev.status, ev.exitCode, ev.signal, ev.signalName, ev.coreDumped, ev.groupDead], name).toEqual([
          'sleep', s.pid, process.pid, num, null, num, name, false, true,
        ]);
        expectAgeWithin(ev, r.ms);
      }
    } finally {
      c.close();
    }
  });

  it('SIGSYS (default action: core) with core dumps off', async () => {
    const c = capture();
    try {
      const r = await sh('kill -SYS $$');
      const ev = await c.waitFor(of(r.pid));
      expect([ev.comm, ev.status, ev.signal, ev.signalName, ev.coreDumped]).toEqual(['sh', 31, 31, 'SIGSYS', false]);
    } finally {
      c.close();
    }
  });

  it('abort(): SIGABRT, and the core-dump mark exactly when a core was written', async () => {
    const pattern = corePattern();
    const c = capture();
    try {
      // ulimit -c 0: a file core_pattern writes nothing (a "|program" one
      // ignores the limit, so then only the signal is checked).
      const off = await run('/bin/sh', ['-c', `ulimit -c 0; exec ${bin.abort}`], { cwd: tmp.dir });
      const evOff = await c.waitFor(of(off.pid));
      expect([evOff.comm, evOff.signal, evOff.signalName, evOff.exitCode]).toEqual(['abort', 6, 'SIGABRT', null]);
      if (!pattern.startsWith('|')) expect(evOff.coreDumped).toBe(false);

      // ulimit -c unlimited, in a directory of its own: a relative pattern
      // (this machine's is "core") writes the file there.
      const { dir, cleanup } = tempDir();
      try {
        const on = await run('/bin/sh', ['-c', `ulimit -c unlimited; exec ${bin.abort}`], { cwd: dir });
        const evOn = await c.waitFor(of(on.pid));
        expect([evOn.signal, evOn.signalName]).toEqual([6, 'SIGABRT']);
        expect(evOn.status & 0x7f).toBe(6);
        const written = readdirSync(dir).some((f) => f.startsWith(pattern.split('%')[0]!));
        if (!pattern.startsWith('|') && !pattern.includes('/')) {
          expect(written).toBe(true);
          expect(evOn.coreDumped).toBe(true);
          expect(evOn.status).toBe(0x80 | 6);
        } else {
          console.log(`core_pattern ${JSON.stringify(pattern)}: core dumped = ${evOn.coreDumped}`);
        }
      } finally {
        cleanup();
      }
    } finally {
      c.close();
    }
  });
});

describe('threads', () => {
  it('main thread pthread_exit()s, a worker exit(7)s 300 ms later: one process event, at the end, code 7', async () => {
    const proc = capture();
    const threads = capture({ perThread: true });
    try {
      const s = start(bin.mtexit, []);
      const [pid, workerTid] = (await s.firstLine).split(' ').map(Number) as [number, number];
      const r = await s.done;
      expect([pid, r.code]).toEqual([s.pid, 7]);

      // Process mode: exactly one event, from the last thread, with the
      // process's name (the worker renamed only itself).
      const ev = await proc.waitFor(of(pid));
      expect([ev.pid, ev.tid, ev.ppid, ev.comm, ev.status, ev.exitCode, ev.signal, ev.groupDead]).toEqual([
        pid, workerTid, process.pid, 'mtexit', 7 << 8, 7, null, true,
      ]);
      expect(ev.ageNs >= 300_000_000n).toBe(true); // the worker slept 300 ms after the process began
      expectAgeWithin(ev, r.ms);
      expect(await proc.settled(of(pid))).toHaveLength(1);

      // Per thread: the main thread's exit (code 0, the process lives on),
      // then the worker's, which ends the group.
      await threads.waitForCount(of(pid), 2);
      const evs = await threads.settled(of(pid));
      expect(evs.map((e) => [e.tid, e.comm, e.status, e.exitCode, e.groupDead, e.ppid])).toEqual([
        [pid, 'mtexit', 0, 0, false, process.pid],
        [workerTid, 'mtexit-worker', 7 << 8, 7, true, process.pid],
      ]);
      expect(evs[1]!.ageNs >= 300_000_000n).toBe(true); // the worker's own age
      expect(evs[1]!.ageNs <= ev.ageNs).toBe(true);
    } finally {
      proc.close();
      threads.close();
    }
  });

  it('a worker thread execs: the old main thread dying is not the process ending', async () => {
    const c = capture();
    try {
      const r = await run(bin.threadexec, []);
      expect(r.code).toBe(5);
      const ev = await c.waitFor(of(r.pid));
      expect([ev.tid, ev.comm, ev.exitCode, ev.groupDead]).toEqual([r.pid, 'sh', 5, true]);
      expect(await c.settled(of(r.pid))).toHaveLength(1);
    } finally {
      c.close();
    }
  });
});

describe('filters', () => {
  it('failed: only non-zero exits and signals', async () => {
    const c = capture({ failed: true });
    try {
      const ok = await sh('exit 0');
      const bad = await sh('exit 4');
      const killed = await sh('kill -TERM $$');
      expect((await c.waitFor(of(bad.pid))).exitCode).toBe(4);
      expect((await c.waitFor(of(killed.pid))).signal).toBe(15);
      expect(await c.settled(of(ok.pid))).toEqual([]);
      for (const e of c.events) expect(e.status, JSON.stringify(e, (_, v) => (typeof v === 'bigint' ? String(v) : v))).not.toBe(0);
    } finally {
      c.close();
    }
  });

  it('pid: only that process', async () => {
    // The target waits on stdin, so it cannot exit before the tracer is attached.
    const target = start('/bin/sh', ['-c', 'read x; sleep 0; exit 6'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const c = capture({ pid: target.pid });
    try {
      const other = await sh('exit 2');
      target.end('\n');
      const r = await target.done;
      expect(r.code).toBe(6);
      const ev = await c.waitFor(of(target.pid));
      expect([ev.comm, ev.exitCode]).toEqual(['sh', 6]);
      const all = await c.settled(() => true);
      expect(all.map((e) => e.pid)).toEqual([target.pid]); // not `other`, not sh's `sleep` child
      expect(other.code).toBe(2);
    } finally {
      c.close();
    }
  });
});

describe('API', () => {
  it('bad options: UsageError before anything is loaded', () => {
    for (const opts of [{ pid: 0 }, { pid: -1 }, { pid: 1.5 }, { pid: 5_000_000 }, { ringBytes: 1000 }, { ringBytes: 3 * 4096 }]) {
      expect(() => exitsnoop(opts), JSON.stringify(opts)).toThrow(UsageError);
    }
  });

  it('for await delivers events; close() ends the iteration and is idempotent', async () => {
    const t = exitsnoop();
    const r = await sh('exit 9');
    let found: ExitEvent | undefined;
    for await (const ev of t) {
      if (ev.pid === r.pid) {
        found = ev;
        break;
      }
    }
    expect(found?.exitCode).toBe(9);
    const it2 = t[Symbol.asyncIterator]();
    const pending = it2.next();
    t.close();
    t.close();
    // whatever was still queued may come first; the iteration then ends
    let res = await pending;
    while (!res.done) res = await it2.next();
    expect(res.done).toBe(true);
    expect(t.closed).toBe(true);
  });

  it('decodeStatus splits a wait status as the kernel builds it', () => {
    expect(decodeStatus(0)).toEqual({ exitCode: 0, signal: null, signalName: null, coreDumped: false });
    expect(decodeStatus(3 << 8)).toEqual({ exitCode: 3, signal: null, signalName: null, coreDumped: false });
    expect(decodeStatus(9)).toEqual({ exitCode: null, signal: 9, signalName: 'SIGKILL', coreDumped: false });
    expect(decodeStatus(0x80 | 11)).toEqual({ exitCode: null, signal: 11, signalName: 'SIGSEGV', coreDumped: true });
    expect(decodeStatus(64)).toEqual({ exitCode: null, signal: 64, signalName: 'SIGRTMAX', coreDumped: false });
    expect(decodeStatus(100)).toEqual({ exitCode: null, signal: 100, signalName: null, coreDumped: false });
  });
});

