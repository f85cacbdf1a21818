// The javagc API against real JVMs: A runs here, B in its own mount and pid
// namespaces with the JDK at a path that exists only there (a container, as
// far as the tool can tell). Both run the same program; every round makes
// GCS System.gc() calls. Events are attributed by thread: a pause is run by
// the JVM's "VM Thread", so a tid that is not A's VM Thread would be another
// process's collection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EbpfError, UsageError, possibleCpus } from '@ebpf/core';
import { findLibjvm, javagc, targetNamespace, type GcEvent } from '../src/index.js';
import { GCS, Jvm, capture, gcLoopClasses } from './helpers.js';
import { tempDir, type TempDir } from '../../../test/support/tmp.js';
import { thrown, until } from '../../../test/support/wait.js';
import { compileC } from '../../../test/support/workload.js';

let tmp: TempDir;
let a: Jvm;
let b: Jvm;

beforeAll(async () => {
  tmp = tempDir('ebpf-javagc-test-');
  const classes = gcLoopClasses();
  const mount = join(tmp.dir, 'opt-jdk');
  mkdirSync(mount);
  [a, b] = await Promise.all([Jvm.start(classes), Jvm.start(classes, { containerMount: mount })]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  tmp?.cleanup();
});

const pauses = (evs: GcEvent[]) => evs.filter((e) => e.kind === 'pause');


describe('javagc()', () => {
  it('reports every System.gc() of the traced JVM as a pause: the VM Thread, plausible 64-bit durations, inside the round', async () => {
    const vm = a.thread('VM Thread');
    const t = capture({ pid: a.pid });
    try {
      const { t0, t1 } = await a.round();
      await b.round(); // the same program in another JVM: not ours
      await t.waitForCount(() => true, GCS);
      t.tracer.flush();
      const evs = t.events;
      expect(evs.length).toBeGreaterThanOrEqual(GCS);
      const cpus = possibleCpus();
      for (const e of evs) {
        expect(e.kind).toBe('pause');
        expect(e.pid).toBe(a.pid);
        expect(e.tid).toBe(vm.tid);
        expect(e.durationNs).toBeGreaterThan(0n);
        expect(e.durationNs).toBeLessThan(10_000_000_000n);
        expect(e.durationUs).toBe(Number(e.durationNs / 1000n));
        expect(e.timestamp - e.durationNs).toBeGreaterThanOrEqual(t0);
        expect(e.timestamp).toBeLessThanOrEqual(t1);
        expect(e.cpu).toBeGreaterThanOrEqual(0);
        expect(e.cpu).toBeLessThan(cpus);
        expect(e.pools).toEqual([]);
        expect(e.poolsDropped).toBe(0);
      }
      // System.gc() is a full collection (G1, no -XX:+ExplicitGCInvokesConcurrent).
      expect(evs.filter((e) => e.full).length).toBeGreaterThanOrEqual(GCS);
      // Ordered by time, and never overlapping: one VM Thread.
      for (let i = 1; i < evs.length; i++) expect(evs[i]!.timestamp - evs[i]!.durationNs).toBeGreaterThan(evs[i - 1]!.timestamp);
      expect(t.tracer.lost()).toEqual({ ring: 0 });
    } finally {
      t.close();
    }
  });

  it('two tracers at once, one per JVM, each see only their own; the container JVM is found through /proc/PID/root and numbered in its namespace', async () => {
    const lib = findLibjvm(b.pid);
    expect(lib.hostPath).toBe(`/proc/${b.pid}/root${lib.path}`);
    expect(targetNamespace(b.pid).nsPid).toBe(1); // PID 1 of its namespace
    const vmA = a.thread('VM Thread');
    const vmB = b.thread('VM Thread');
    expect(vmB.nsTid).not.toBe(vmB.tid);
    const ta = capture({ pid: a.pid });
    const tb = capture({ pid: b.pid });
    try {
      await Promise.all([a.round(), b.round()]);
      await Promise.all([ta.waitForCount(() => true, GCS), tb.waitForCount(() => true, GCS)]);
      ta.tracer.flush();
      tb.tracer.flush();
      expect(ta.events.length).toBeGreaterThanOrEqual(GCS);
      expect(tb.events.length).toBeGreaterThanOrEqual(GCS);
      for (const e of ta.events) expect([e.pid, e.tid]).toEqual([a.pid, vmA.tid]);
      for (const e of tb.events) expect([e.pid, e.tid]).toEqual([b.pid, vmB.nsTid]);
    } finally {
      ta.close();
      tb.close();
    }
  });

  it('thresholdUs filters in the kernel: only pauses at least that long, all of them', async () => {
    const T = 2000; // µs: between this JVM's short and long full GCs
    const all = capture({ pid: a.pid });
    const some = capture({ pid: a.pid, thresholdUs: T });
    const none = capture({ pid: a.pid, thresholdUs: 10_000_000 });
    // 4294968 µs is 2^32 + 704 ns: a threshold cut to 32 bits would let every
    // pause through; in 64 bits it lets none.
    const wide = capture({ pid: a.pid, thresholdUs: 4_294_968 });
    try {
      await a.round('grow'); // longer collections, then short ones
      await a.round('drop');
      await all.waitForCount(() => true, 2 * GCS);
      for (const c of [all, some, none, wide]) c.tracer.flush();
      expect(none.events).toEqual([]);
      expect(wide.events).toEqual([]);
      for (const e of some.events) expect(e.durationNs).toBeGreaterThanOrEqual(BigInt(T) * 1000n);
      // The same collections, measured by another program a few µs apart
      // (pauses never overlap: one VM Thread runs them, so overlapping
      // intervals are the same pause): the clearly long ones are all there,
      // the clearly short ones are not.
      const margin = 500_000n;
      const near = (x: GcEvent) =>
        some.events.some((e) => e.timestamp - e.durationNs < x.timestamp && x.timestamp - x.durationNs < e.timestamp);
      for (const e of all.events) {
        if (e.durationNs >= BigInt(T) * 1000n + margin) expect(near(e)).toBe(true);
        if (e.durationNs + margin < BigInt(T) * 1000n) expect(near(e)).toBe(false);
      }
      expect(some.events.length).toBeLessThanOrEqual(all.events.length);
    } finally {
      for (const c of [all, some, none, wide]) c.close();
    }
  });

  it('pools: each pause carries the memory pools, names decoded by length, usage before -> after', async () => {
    const t = capture({ pid: a.pid, pools: true });
    try {
      const grow = await a.round('grow');
      const drop = await a.round('drop');
      await t.waitForCount((e) => e.full, 2 * GCS);
      t.tracer.flush();
      const evs = pauses(t.events);
      const inRound = (r: { t0: bigint; t1: bigint }) => evs.filter((e) => e.timestamp > r.t0 && e.timestamp < r.t1);
      for (const e of evs) {
        expect(e.poolsDropped).toBe(0);
        // Full and young collections report every pool; the short pauses of
        // G1's concurrent cycle (remark, cleanup) report none.
        if (e.full) expect(e.pools.length).toBeGreaterThan(0);
        if (e.pools.length === 0) continue;
        const names = e.pools.map((p) => p.pool);
        expect(names).toEqual(expect.arrayContaining(['Metaspace', 'G1 Eden Space', 'G1 Survivor Space', 'G1 Old Gen']));
        expect(new Set(names).size).toBe(names.length);
        for (const p of e.pools) {
          expect(p.manager).toBe(e.full ? 'G1 Old Generation' : 'G1 Young Generation');
          expect(p.pool).toMatch(/^[\x20-\x7e]+$/); // exactly the name: no NUL, no bytes past it
          expect(p.after).toBeDefined();
          expect(p.beginTs).toBeGreaterThanOrEqual(e.timestamp - e.durationNs);
          expect(p.endTs).toBeGreaterThanOrEqual(p.beginTs);
          expect(p.endTs).toBeLessThanOrEqual(e.timestamp);
          expect(p.before.used).toBeGreaterThanOrEqual(0);
        }
        const old = e.pools.find((p) => p.pool === 'G1 Old Gen')!;
        expect(old.before.max).toBe(64 * 1024 * 1024); // -Xmx64m
        expect(e.pools.find((p) => p.pool === 'G1 Eden Space')!.before.max).toBe(-1); // undefined in Java
        if (e.full) expect(e.pools.find((p) => p.pool === 'G1 Eden Space')!.after!.used).toBe(0);
      }
      // "grow" keeps ~14 MB alive: after its full GCs they sit in the old
      // generation; after "drop" they are gone again.
      const oldGen = (e: GcEvent, when: 'before' | 'after') => e.pools.find((p) => p.pool === 'G1 Old Gen')![when]!.used;
      const g = inRound(grow).filter((e) => e.full);
      const d = inRound(drop).filter((e) => e.full);
      expect(g.length).toBeGreaterThanOrEqual(GCS);
      expect(d.length).toBeGreaterThanOrEqual(GCS);
      const first = inRound(grow).find((e) => e.pools.length > 0)!; // maybe a young GC during the allocation
      const grown = oldGen(g[g.length - 1]!, 'after');
      expect(grown - oldGen(first, 'before')).toBeGreaterThan(10 * 1024 * 1024);
      expect(grown - oldGen(d[d.length - 1]!, 'after')).toBeGreaterThan(10 * 1024 * 1024);
    } finally {
      t.close();
    }
  });

  it('for await: one event at a time; break ends the iteration, close() the tracer', async () => {
    const tracer = javagc({ pid: a.pid });
    try {
      const round = a.round();
      const got: GcEvent[] = [];
      for await (const e of tracer) {
        got.push(e);
        if (got.length === GCS) break;
      }
      await round;
      expect(got.every((e) => e.pid === a.pid && e.kind === 'pause')).toBe(true);
      expect(tracer.closed).toBe(false);
    } finally {
      tracer.close();
    }
    expect(tracer.closed).toBe(true);
    const it = tracer[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('bad options are UsageErrors; a process that is not a JVM, or whose JVM lacks the probes, or is gone, an EbpfError with one line', async () => {
    expect(thrown(() => javagc(undefined as never))).toBeInstanceOf(UsageError);
    expect(thrown(() => javagc({} as never)).message).toBe('pid is required: the Java process to trace');
    for (const pid of [0, -1, 1.5, 4194305, NaN]) expect(thrown(() => javagc({ pid }))).toBeInstanceOf(UsageError);
    for (const thresholdUs of [-1, 1.5, 1e16]) expect(thrown(() => javagc({ pid: a.pid, thresholdUs }))).toBeInstanceOf(UsageError);

    const self = thrown(() => javagc({ pid: process.pid }));
    expect(self).toBeInstanceOf(EbpfError);
    expect(self.code).toBe('ENOTJVM');
    const comm = readFileSync('/proc/self/comm', 'utf8').trimEnd();
    expect(self.message).toBe(`process ${process.pid} (${comm}) is not a Java VM: no libjvm.so in /proc/${process.pid}/maps`);

    // A process that maps a libjvm.so without HotSpot's probes.
    const lib = compileC({ name: 'libjvm.so', code: 'int fake_jvm(void) { return 0; }\n' }, { flags: ['-shared', '-fPIC'] });
    const fake = spawn('sleep', ['30'], { env: { ...process.env, LD_PRELOAD: lib }, stdio: 'ignore' });
    try {
      await until(() => readFileSync(`/proc/${fake.pid}/maps`, 'utf8').includes(lib), 'sleep to map the fake libjvm.so');
      const err = thrown(() => javagc({ pid: fake.pid! }));
      expect(err).toBeInstanceOf(EbpfError);
      expect(err.code).toBe('ENOPROBE');
      expect(err.message).toBe(
        `${lib} of process ${fake.pid} has no hotspot:gc__begin, hotspot:gc__end USDT probes (a JVM built without DTrace/SDT support?)`,
      );
    } finally {
      fake.kill();
    }
    await new Promise((r) => fake.once('close', r));
    const gone = thrown(() => javagc({ pid: fake.pid! }));
    expect(gone).toBeInstanceOf(EbpfError);
    expect(gone.code).toBe('ESRCH');
    expect(gone.message).toBe(`no process with PID ${fake.pid}`);
  });
});
