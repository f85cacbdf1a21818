// Integration tests of @ebpf/core against the running kernel: real programs
// from test/bpf/probes.bpf.c, loaded and attached here, counting events the
// test itself causes. Every count is filtered by the test's own process id
// (the `targ_tgid` config), so other processes cannot disturb it.
//
// Needs root. This kernel has no kprobes and no fentry/fexit, so the hook
// kinds covered are tracepoint, raw_tp, tp_btf, uprobe/uretprobe, USDT and
// perf_event.
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import {
  AttachError,
  BpfMap,
  ClosedError,
  EbpfError,
  LoadError,
  ObjectSpec,
  PerfSoftware,
  PerfType,
  PreflightError,
  Tracer,
  UsageError,
  checkBtf,
  checkPrivileges,
  checkTracepoints,
  effectiveCapabilities,
  hasTracepoint,
  hasTracingPrivileges,
  possibleCpus,
  preflight,
  tracefsRoot,
  u32Key,
  u64Key,
  uprobeMultiSupported,
} from '../src/index.js';
import { native } from '../src/native/load.js';
import { uprobeOffset } from '../src/symbolize/index.js';
import { EVENT_SIZE, decodeEvent, type Event } from './bpf/probes.gen.js';
import {
  CORE_DIST_INDEX,
  MISSING,
  NR_GETPPID,
  PROBES,
  REJECTED,
  RING_BYTES,
  Workload,
  bpfFds,
  buildWorkload,
  burnCpu,
  getppid,
  loadProbes,
  onOneCpu,
  perfEventFds,
  sleep,
  threadComm,
  thrown,
  waitFor,
} from './helpers.js';

const seqs = (events: Event[]): bigint[] => events.map((e) => e.seq);
const range = (from: number, n: number): bigint[] => Array.from({ length: n }, (_, i) => BigInt(from + i));
const u64 = (b: Buffer | undefined): bigint | undefined => b?.readBigUInt64LE(0);

let workloadBin: string;

beforeAll(() => {
  workloadBin = buildWorkload();
});

// ---- 1. hooks -------------------------------------------------------------------

describe('hooks: load, attach, detach', () => {
  it('tracepoint: counts exactly the getppid() calls, stops after detach, attaches again', () => {
    const obj = loadProbes();
    try {
      const links = obj.attach('getppid_ring');
      expect(links).toHaveLength(1);
      const [link] = links;
      expect(link!.program).toBe('getppid_ring');
      expect(link!.attached).toBe(true);
      expect(obj.linkCount).toBe(1);

      getppid(200);
      expect(obj.readGlobalInt('hits_tracepoint')).toBe(200n);

      link!.detach();
      link!.detach(); // idempotent
      expect(link!.attached).toBe(false);
      expect(obj.linkCount).toBe(0);
      getppid(200);
      expect(obj.readGlobalInt('hits_tracepoint')).toBe(200n);

      obj.attach('getppid_ring');
      getppid(7);
      expect(obj.readGlobalInt('hits_tracepoint')).toBe(207n);
    } finally {
      obj.close();
    }
  });

  it('raw_tp: the program fills the hash keyed by syscall number; stops after detach', () => {
    const obj = loadProbes();
    try {
      const hash = obj.map('hash');
      const [link] = obj.attach('raw_sys_enter');
      getppid(300);
      expect(u64(hash.lookup(u32Key(NR_GETPPID)))).toBe(300n);
      // Every syscall of this process counts, getppid() among them.
      const hits = obj.readGlobalInt('hits_raw_tp');
      expect(hits).toBeGreaterThanOrEqual(300n);

      link!.detach();
      const after = obj.readGlobalInt('hits_raw_tp');
      getppid(300);
      expect(u64(hash.lookup(u32Key(NR_GETPPID)))).toBe(300n);
      expect(obj.readGlobalInt('hits_raw_tp')).toBe(after);
    } finally {
      obj.close();
    }
  });

  it('tp_btf: sees the syscall id as a typed argument; stops after detach', () => {
    const obj = loadProbes();
    try {
      const [link] = obj.attach('btf_sys_enter');
      getppid(250);
      expect(obj.readGlobalInt('hits_tp_btf_getppid')).toBe(250n);
      expect(obj.readGlobalInt('hits_tp_btf')).toBeGreaterThanOrEqual(250n);

      link!.detach();
      const all = obj.readGlobalInt('hits_tp_btf');
      getppid(250);
      expect(obj.readGlobalInt('hits_tp_btf_getppid')).toBe(250n);
      expect(obj.readGlobalInt('hits_tp_btf')).toBe(all);
    } finally {
      obj.close();
    }
  });

  it('uprobe + uretprobe: one hit per call of the workload function; stop after detach', async () => {
    const CALLS = 50;
    const w = await Workload.start(workloadBin, CALLS);
    const obj = loadProbes();
    try {
      const entry = obj.attachUprobe('on_uprobe', { binary: workloadBin, symbol: 'ebpftest_work', pid: w.pid });
      const exit = obj.attachUprobe('on_uretprobe', {
        binary: workloadBin,
        symbol: 'ebpftest_work',
        pid: w.pid,
        retprobe: true,
      });
      expect(obj.linkCount).toBe(2);
      expect(obj.readGlobalInt('hits_uprobe')).toBe(0n);

      expect(await w.round()).toBe(CALLS * (CALLS + 1)); // sum of 2*i: the function really ran
      expect(obj.readGlobalInt('hits_uprobe')).toBe(50n);
      expect(obj.readGlobalInt('hits_uretprobe')).toBe(50n);
      await w.round();
      expect(obj.readGlobalInt('hits_uprobe')).toBe(100n);
      expect(obj.readGlobalInt('hits_uretprobe')).toBe(100n);

      entry.detach();
      exit.detach();
      expect(obj.linkCount).toBe(0);
      await w.round();
      expect(obj.readGlobalInt('hits_uprobe')).toBe(100n);
      expect(obj.readGlobalInt('hits_uretprobe')).toBe(100n);
    } finally {
      obj.close();
      await w.stop();
    }
  });

  it('detachAll(): every link goes at once, off the JS thread; the probes stop, the object stays readable', async () => {
    const CALLS = 20;
    const w = await Workload.start(workloadBin, CALLS);
    const obj = loadProbes();
    const perfBefore = perfEventFds();
    try {
      const links = [];
      for (let i = 0; i < 4; i++) {
        links.push(obj.attachUprobe('on_uprobe', { binary: workloadBin, symbol: 'ebpftest_work', pid: w.pid }));
        links.push(obj.attachUprobe('on_uretprobe', { binary: workloadBin, symbol: 'ebpftest_work', pid: w.pid, retprobe: true }));
      }
      expect(obj.linkCount).toBe(8);
      expect(perfEventFds()).toBe(perfBefore + 8);
      await w.round();
      expect(obj.readGlobalInt('hits_uprobe')).toBe(BigInt(4 * CALLS));
      expect(obj.readGlobalInt('hits_uretprobe')).toBe(BigInt(4 * CALLS));

      const done = obj.detachAll();
      // Detached for the caller at once; the kernel's part finishes later.
      expect(obj.linkCount).toBe(0);
      expect(links.every((l) => !l.attached)).toBe(true);
      links[0]!.detach(); // a no-op now
      await done;
      expect(perfEventFds()).toBe(perfBefore);
      await w.round();
      expect(obj.readGlobalInt('hits_uprobe')).toBe(BigInt(4 * CALLS));
      expect(obj.readGlobalInt('hits_uretprobe')).toBe(BigInt(4 * CALLS));
      await obj.detachAll(); // nothing left: resolves
      // Links attached afterwards are counted, and detached, as before.
      const again = obj.attachUprobe('on_uprobe', { binary: workloadBin, symbol: 'ebpftest_work', pid: w.pid });
      expect(obj.linkCount).toBe(1);
      await w.round();
      expect(obj.readGlobalInt('hits_uprobe')).toBe(BigInt(5 * CALLS));
      again.detach();
      expect(obj.linkCount).toBe(0);
    } finally {
      obj.close();
      await w.stop();
    }
    expect(perfEventFds()).toBe(perfBefore);
    await expect(obj.detachAll()).resolves.toBeUndefined(); // closed: nothing to do
  });

  it('uprobe_multi: one link for several offsets, only the target process, detached at once', async () => {
    expect(uprobeMultiSupported()).toBe(true); // Linux 6.9+, as here
    const CALLS = 30;
    const traced = await Workload.start(workloadBin, CALLS);
    const other = await Workload.start(workloadBin, CALLS);
    const spec = ObjectSpec.fromFile(PROBES);
    spec.setConfig({ targ_tgid: traced.pid });
    spec.setUprobeMulti('on_uprobe').setUprobeMulti('on_uretprobe');
    const obj = spec.load();
    const perfBefore = perfEventFds();
    try {
      const at = uprobeOffset(workloadBin, 'ebpftest_work')!;
      // The same function twice in one link: two probes, two hits per call.
      const entry = obj.attachUprobeMulti('on_uprobe', { binary: workloadBin, offsets: [at.offset, at.offset], cookies: [1, 2n], pid: traced.pid });
      const exit = obj.attachUprobeMulti('on_uretprobe', { binary: workloadBin, offsets: [at.offset], pid: traced.pid, retprobe: true });
      expect(obj.linkCount).toBe(2);
      expect(perfEventFds()).toBe(perfBefore); // BPF links, no perf events
      expect(await traced.round()).toBe(CALLS * (CALLS + 1));
      await other.round(); // not traced
      expect(obj.readGlobalInt('hits_uprobe')).toBe(BigInt(2 * CALLS));
      expect(obj.readGlobalInt('hits_uretprobe')).toBe(BigInt(CALLS));
      await obj.detachAll();
      expect([entry.attached, exit.attached, obj.linkCount]).toEqual([false, false, 0]);
      await traced.round();
      expect(obj.readGlobalInt('hits_uprobe')).toBe(BigInt(2 * CALLS));
      expect(obj.readGlobalInt('hits_uretprobe')).toBe(BigInt(CALLS));

      expect(thrown(() => obj.attachUprobeMulti('on_uprobe', { binary: workloadBin, offsets: [] }))).toBeInstanceOf(UsageError);
      expect(thrown(() => obj.attachUprobeMulti('on_uprobe', { binary: workloadBin, offsets: [1, 2], cookies: [1] }))).toBeInstanceOf(UsageError);
      const missing = thrown(() => obj.attachUprobeMulti('on_uprobe', { binary: '/no/such/binary', offsets: [at.offset] }));
      expect(missing).toBeInstanceOf(AttachError);
      expect(missing.code).toBe('ENOENT');
    } finally {
      obj.close();
      await traced.stop();
      await other.stop();
    }
    // A program loaded for perf-event uprobes cannot make a uprobe_multi link.
    const plain = loadProbes();
    try {
      const at = uprobeOffset(workloadBin, 'ebpftest_work')!;
      expect(thrown(() => plain.attachUprobeMulti('on_uprobe', { binary: workloadBin, offsets: [at.offset] }))).toBeInstanceOf(AttachError);
      expect(plain.linkCount).toBe(0);
    } finally {
      plain.close();
    }
  });

  it('uprobe: a symbol the binary lacks is an AttachError naming the program', async () => {
    const obj = loadProbes();
    try {
      const err = thrown(() => obj.attachUprobe('on_uprobe', { binary: workloadBin, symbol: 'no_such_function' }));
      expect(err).toBeInstanceOf(AttachError);
      expect((err as AttachError).program).toBe('on_uprobe');
      expect(err.code).toBe('ENOENT');
      expect(err.message).toContain('no_such_function');
      expect(thrown(() => obj.attachUprobe('on_uprobe', { binary: workloadBin }))).toBeInstanceOf(UsageError);
      expect(obj.linkCount).toBe(0);
    } finally {
      obj.close();
    }
  });

  it('USDT: hit count and argument sum of ebpftest:tick, only in the process asked for; stops after detach', async () => {
    const CALLS = 50;
    const ARG_SUM = BigInt((CALLS * (CALLS + 1)) / 2);
    const traced = await Workload.start(workloadBin, CALLS);
    const other = await Workload.start(workloadBin, CALLS);
    const obj = loadProbes();
    try {
      const link = obj.attachUsdt('on_usdt', { binary: workloadBin, provider: 'ebpftest', name: 'tick', pid: traced.pid });
      await other.round(); // same binary, another process: not traced
      expect(obj.readGlobalInt('hits_usdt')).toBe(0n);

      await traced.round();
      expect(obj.readGlobalInt('hits_usdt')).toBe(50n);
      expect(obj.readGlobalInt('usdt_arg_sum')).toBe(ARG_SUM);
      await traced.round();
      expect(obj.readGlobalInt('hits_usdt')).toBe(100n);
      expect(obj.readGlobalInt('usdt_arg_sum')).toBe(2n * ARG_SUM);

      link.detach();
      await traced.round();
      expect(obj.readGlobalInt('hits_usdt')).toBe(100n);
      expect(obj.readGlobalInt('usdt_arg_sum')).toBe(2n * ARG_SUM);
    } finally {
      obj.close();
      await traced.stop();
      await other.stop();
    }
  });

  it('USDT: a probe the binary lacks is an AttachError', () => {
    const obj = loadProbes();
    try {
      const err = thrown(() => obj.attachUsdt('on_usdt', { binary: workloadBin, provider: 'ebpftest', name: 'nosuch' }));
      expect(err).toBeInstanceOf(AttachError);
      expect(err.message).toContain('ebpftest:nosuch');
      expect(obj.linkCount).toBe(0);
    } finally {
      obj.close();
    }
  });

  it('perf_event: CPU clock samples while the test burns CPU; per-CPU counts sum to the hits; stops after detach', () => {
    const obj = loadProbes();
    try {
      const links = obj.attachPerfEvent('on_perf_event', {
        type: PerfType.SOFTWARE,
        config: PerfSoftware.CPU_CLOCK,
        frequency: 99,
      });
      // One event per online CPU (all possible CPUs are online here).
      expect(links).toHaveLength(possibleCpus());
      expect(obj.linkCount).toBe(links.length);
      burnCpu(300);
      for (const l of links) l.detach();
      expect(obj.linkCount).toBe(0);

      const hits = obj.readGlobalInt('hits_perf_event');
      expect(hits).toBeGreaterThan(0n);
      const percpu = obj.map('percpu');
      const perCpu = percpu.perCpuValues(percpu.lookup(u32Key(0))!).map((b) => b.readBigUInt64LE(0));
      expect(perCpu).toHaveLength(possibleCpus());
      expect(perCpu.reduce((a, b) => a + b, 0n)).toBe(hits);

      burnCpu(100);
      expect(obj.readGlobalInt('hits_perf_event')).toBe(hits);
    } finally {
      obj.close();
    }
  });

  it('attach errors: a missing tracepoint or raw tracepoint is a PreflightError; attach-all rolls back', () => {
    const spec = ObjectSpec.fromFile(MISSING);
    const obj = spec.load();
    try {
      expect(obj.programs.map((p) => p.name)).toEqual(['present', 'missing_tp', 'missing_raw_tp']);
      const tp = thrown(() => obj.attach('missing_tp'));
      expect(tp).toBeInstanceOf(PreflightError);
      expect(tp.kind).toBe('no-tracepoint');
      expect(tp.message).toBe('tracepoint ebpftest:no_such_event does not exist on this kernel');
      const raw = thrown(() => obj.attach('missing_raw_tp'));
      expect(raw).toBeInstanceOf(PreflightError);
      expect(raw.kind).toBe('no-tracepoint');
      expect(raw.message).toContain('ebpftest_no_such_event');

      // `present` attaches first, then missing_tp fails: nothing stays attached.
      expect(thrown(() => obj.attach())).toBeInstanceOf(PreflightError);
      expect(obj.linkCount).toBe(0);
      expect(thrown(() => obj.attach('nosuch'))).toBeInstanceOf(UsageError);
      expect(obj.attach('present')).toHaveLength(1);
      expect(obj.linkCount).toBe(1);
    } finally {
      obj.close();
    }
  });
});

// ---- 2-4. ring and perf buffers ---------------------------------------------------

describe('ring buffer', () => {
  const N = 1000;
  const CHUNK = 100; // 100 records of 48 bytes: well below the 16 KiB ring

  it(`delivers exactly ${N} records in order, with the configured magic, pid and comm`, async () => {
    const MAGIC = 0x0123456789abcdefn;
    const obj = loadProbes({ magic: MAGIC });
    try {
      const events: Event[] = [];
      const lengths = new Set<number>();
      const sources = new Set<number>();
      const ring = obj.ringBuffer('events', (view, off, len, source) => {
        events.push(decodeEvent(view, off, len));
        lengths.add(len);
        sources.add(source);
      });
      obj.attach('getppid_ring');
      for (let sent = 0; sent < N; ) {
        getppid(CHUNK);
        sent += CHUNK;
        expect(await waitFor(() => events.length >= sent)).toBe(true);
      }
      await sleep(60); // three drain intervals: nothing more may come
      expect(events).toHaveLength(N);
      expect(ring.records).toBe(N);
      expect(ring.lost()).toBe(0);
      expect(obj.ringDrops('events')).toBe(0);
      expect(seqs(events)).toEqual(range(0, N));
      expect(events.every((e) => e.magic === MAGIC)).toBe(true);
      expect(events.every((e) => e.tgid === process.pid)).toBe(true);
      expect(new Set(events.map((e) => e.comm))).toEqual(new Set([threadComm()]));
      expect([...lengths]).toEqual([EVENT_SIZE]);
      expect([...sources]).toEqual([0]);
      expect(obj.readGlobalInt('hits_tracepoint')).toBe(BigInt(N));
    } finally {
      obj.close();
    }
  });

  it('pause() holds records back, flush() and close() deliver them synchronously', async () => {
    const obj = loadProbes();
    try {
      const events: Event[] = [];
      const ring = obj.ringBuffer('events', (view, off, len) => events.push(decodeEvent(view, off, len)));
      obj.attach('getppid_ring');

      ring.pause();
      getppid(100);
      await sleep(60);
      expect(events).toHaveLength(0);
      expect(ring.flush()).toBe(100); // works while paused
      expect(events).toHaveLength(100);

      ring.resume();
      getppid(10);
      expect(await waitFor(() => events.length >= 110)).toBe(true);

      getppid(25);
      ring.close(); // delivers what waits, synchronously
      expect(events).toHaveLength(135);
      expect(ring.closed).toBe(true);
      ring.close(); // idempotent
      expect(ring.flush()).toBe(0);
      expect(seqs(events)).toEqual(range(0, 135));
      expect(obj.linkCount).toBe(1); // closing the reader leaves the program attached
    } finally {
      obj.close();
    }
  });

  it('overflow: delivered + lost equals the calls exactly (reader paused)', async () => {
    const CALLS = 1000;
    const capacity = Math.floor(RING_BYTES / (8 + EVENT_SIZE)); // 8-byte record header
    const obj = loadProbes();
    try {
      const events: Event[] = [];
      const ring = obj.ringBuffer('events', (view, off, len) => events.push(decodeEvent(view, off, len)));
      ring.pause();
      obj.attach('getppid_ring');
      getppid(CALLS);
      expect(obj.readGlobalInt('hits_tracepoint')).toBe(BigInt(CALLS));
      ring.resume();
      expect(await waitFor(() => events.length >= capacity)).toBe(true);
      await sleep(60);
      expect(events).toHaveLength(capacity);
      expect(ring.lost()).toBe(CALLS - capacity);
      expect(events.length + ring.lost()).toBe(CALLS);
      expect(ring.lost()).toBeGreaterThan(0);
      expect(seqs(events)).toEqual(range(0, capacity)); // seq only advances for records that got space
    } finally {
      obj.close();
    }
  });

  it('overflow: records made before the reader exists wait in the ring; the rest count as lost', async () => {
    const CALLS = 600;
    const obj = loadProbes();
    try {
      obj.attach('getppid_ring');
      getppid(CALLS);
      const events: Event[] = [];
      const ring = obj.ringBuffer('events', (view, off, len) => events.push(decodeEvent(view, off, len)));
      expect(await waitFor(() => events.length > 0)).toBe(true);
      await sleep(60);
      expect(events.length + ring.lost()).toBe(CALLS);
      expect(ring.lost()).toBeGreaterThan(0);
      expect(seqs(events)).toEqual(range(0, events.length));
    } finally {
      obj.close();
    }
  });
});

describe('Tracer', () => {
  const N = 1000;
  const CHUNK = 100;

  it(`for await: exactly ${N} decoded events; iteration ends on close()`, async () => {
    const obj = loadProbes({ magic: 42n });
    const tracer = new Tracer<Event>({ object: obj, rings: ['events'], decode: decodeEvent });
    try {
      obj.attach('getppid_ring');
      const got: Event[] = [];
      const consumer = (async () => {
        for await (const ev of tracer) {
          got.push(ev);
          if (got.length === N) break;
        }
      })();
      for (let sent = 0; sent < N; ) {
        getppid(CHUNK);
        sent += CHUNK;
        expect(await waitFor(() => got.length >= sent)).toBe(true);
      }
      await consumer;
      expect(got).toHaveLength(N);
      expect(seqs(got)).toEqual(range(0, N));
      expect(got.every((e) => e.magic === 42n && e.tgid === process.pid)).toBe(true);
      expect(tracer.closed).toBe(false); // `break` ends the loop, not the tracer
      expect(tracer.lost()).toEqual({ ring: 0 });

      // A second consumer gets what follows, and its loop ends when the tracer closes.
      const more: Event[] = [];
      const second = (async () => {
        for await (const ev of tracer) more.push(ev);
        return 'ended';
      })();
      getppid(5);
      expect(await waitFor(() => more.length >= 5)).toBe(true);
      getppid(3);
      tracer.close(); // flushes the last 3 first
      expect(await second).toBe('ended');
      expect(seqs(more)).toEqual(range(N, 8));
      expect(tracer.closed).toBe(true);
      expect(obj.closed).toBe(true);
      expect(tracer.lost()).toEqual({ ring: 0 });
    } finally {
      tracer.close();
    }
  });

  it(`subscribe: batches hold exactly the ${N} events in order; a decoder can drop records`, async () => {
    const obj = loadProbes();
    // Keep only even sequence numbers: a user-space filter.
    const tracer = new Tracer<Event>({
      object: obj,
      rings: ['events'],
      decode: (v, o, l) => {
        const e = decodeEvent(v, o, l);
        return e.seq % 2n === 0n ? e : undefined;
      },
    });
    try {
      const batches: Event[][] = [];
      const unsubscribe = tracer.subscribe((events) => batches.push(events));
      const total = () => batches.reduce((n, b) => n + b.length, 0);
      obj.attach('getppid_ring');
      for (let sent = 0; sent < N; ) {
        getppid(CHUNK);
        sent += CHUNK;
        expect(await waitFor(() => total() >= sent / 2)).toBe(true);
      }
      await sleep(60);
      expect(batches.every((b) => b.length > 0)).toBe(true);
      const all = batches.flat();
      expect(all).toHaveLength(N / 2);
      expect(seqs(all)).toEqual(Array.from({ length: N / 2 }, (_, i) => BigInt(2 * i)));
      expect(tracer.lost()).toEqual({ ring: 0 });

      unsubscribe();
      const before = total();
      getppid(10);
      tracer.flush();
      expect(total()).toBe(before);
    } finally {
      tracer.close();
    }
    expect(obj.closed).toBe(true);
  });
});

describe('perf buffer', () => {
  it('delivers exactly N samples, each once, from the CPU that made them', async () => {
    const N = 1000;
    const MAGIC = 0xabcdefn;
    const obj = loadProbes({ magic: MAGIC });
    try {
      const events: Event[] = [];
      const cpus = new Set<number>();
      const pb = obj.perfBuffer('perf_events', (view, off, len, cpu) => {
        expect(len).toBeGreaterThanOrEqual(EVENT_SIZE);
        events.push(decodeEvent(view, off, len));
        cpus.add(cpu);
      });
      obj.attach('getppid_perf');
      for (let sent = 0; sent < N; ) {
        getppid(200);
        sent += 200;
        expect(await waitFor(() => events.length >= sent)).toBe(true);
      }
      await sleep(60);
      expect(events).toHaveLength(N);
      expect(pb.records).toBe(N);
      expect(pb.lost()).toBe(0);
      // CPUs' buffers are read one after another: order within a CPU only.
      expect(seqs(events).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(range(0, N));
      expect(events.every((e) => e.magic === MAGIC && e.tgid === process.pid && e.comm === threadComm())).toBe(true);
      for (const cpu of cpus) expect(cpu).toBeLessThan(possibleCpus());
    } finally {
      obj.close();
    }
  });

  it('overflow (1 page per CPU): delivered + lost equals the calls exactly', async () => {
    const CALLS = 1000;
    const obj = loadProbes();
    try {
      // All samples go to one CPU's buffer: the kernel reports a loss in the
      // next record it writes to that same buffer.
      await onOneCpu(0, async () => {
        const events: Event[] = [];
        const pb = obj.perfBuffer('perf_events', (view, off, len) => events.push(decodeEvent(view, off, len)), {
          pagesPerCpu: 1,
        });
        obj.attach('getppid_perf');
        pb.pause();
        getppid(CALLS);
        pb.resume();
        expect(await waitFor(() => events.length > 0)).toBe(true);
        await sleep(60);
        const fitted = events.length;
        expect(fitted).toBeLessThan(4096 / EVENT_SIZE);
        getppid(1); // carries the PERF_RECORD_LOST out
        expect(await waitFor(() => events.length + pb.lost() === CALLS + 1)).toBe(true);
        expect(events).toHaveLength(fitted + 1);
        expect(pb.lost()).toBe(CALLS - fitted);
        expect(seqs(events)).toEqual([...range(0, fitted), BigInt(CALLS)]);
        pb.close();
        expect(pb.lost()).toBe(CALLS - fitted); // still known after close
      });
    } finally {
      obj.close();
    }
  });

  it('rejects a page count that is not a power of two, and maps of the wrong type', () => {
    const obj = loadProbes();
    try {
      expect(thrown(() => obj.perfBuffer('perf_events', () => {}, { pagesPerCpu: 3 })).code).toBe('EINVAL');
      expect(thrown(() => obj.perfBuffer('events', () => {}))).toBeInstanceOf(UsageError);
      expect(thrown(() => obj.ringBuffer('perf_events', () => {}))).toBeInstanceOf(UsageError);
      expect(thrown(() => obj.ringBuffer('nosuch', () => {}))).toBeInstanceOf(UsageError);
    } finally {
      obj.close();
    }
  });
});

// ---- 5. maps ----------------------------------------------------------------------

describe('maps', () => {
  // Rows of a u32 → u64 map, checking each key comes once and has the map's sizes.
  const entriesOf = (m: BpfMap, rows: Array<[Buffer, Buffer]>): Map<number, bigint> => {
    const out = new Map(rows.map(([k, v]) => [k.readUInt32LE(0), v.readBigUInt64LE(0)]));
    expect(out.size).toBe(rows.length);
    expect(rows.every(([k, v]) => k.length === m.keySize && v.length === m.valueBytes)).toBe(true);
    return out;
  };

  it('hash: update flags, lookup, delete, keys, entries (batched), drain', () => {
    const obj = loadProbes();
    try {
      const h = obj.map('hash');
      expect(obj.map('hash')).toBe(h);
      expect([h.type, h.keySize, h.valueSize, h.maxEntries, h.perCpu, h.valueBytes]).toEqual(['hash', 4, 8, 1024, false, 8]);

      expect(h.lookup(u32Key(1))).toBeUndefined();
      h.update(u32Key(1), u64Key(10));
      expect(u64(h.lookup(u32Key(1)))).toBe(10n);
      h.update(u32Key(1), u64Key(11), 2 /* BPF_EXIST */);
      expect(u64(h.lookup(u32Key(1)))).toBe(11n);
      const exists = thrown(() => h.update(u32Key(1), u64Key(12), 1 /* BPF_NOEXIST */));
      expect(exists).toBeInstanceOf(EbpfError);
      expect(exists.code).toBe('EEXIST');
      expect(thrown(() => h.update(u32Key(2), u64Key(1), 2 /* BPF_EXIST */)).code).toBe('ENOENT');
      expect(h.delete(u32Key(1))).toBe(true);
      expect(h.delete(u32Key(1))).toBe(false);
      expect(h.lookup(u32Key(1))).toBeUndefined();

      const COUNT = 600;
      const expected = new Map<number, bigint>();
      for (let i = 0; i < COUNT; i++) {
        const k = i * 7919 + 3;
        expected.set(k, BigInt(i) * 1000n + 7n);
        h.update(u32Key(k), u64Key(expected.get(k)!));
      }
      const keys = [...h.keys()].map((k) => k.readUInt32LE(0));
      expect(keys).toHaveLength(COUNT);
      expect(new Set(keys)).toEqual(new Set(expected.keys()));

      // The kernel supports batch lookups on hashes: that is the path entries() takes.
      const outBatch = Buffer.alloc(8);
      const r = native().mapLookupBatch(h.fd, null, outBatch, Buffer.alloc(4 * 1024), Buffer.alloc(8 * 1024), 1024, false);
      expect(r).toEqual({ count: COUNT, done: true });

      expect(entriesOf(h, h.entries())).toEqual(expected);
      expect(entriesOf(h, h.entries(64))).toEqual(expected); // several batches
      expect(entriesOf(h, h.entries(1))).toEqual(expected); // smaller than a hash bucket

      // batches(): the same entries, packed, a batch at a time (buffers reused).
      for (const chunk of [4096, 64, 1]) {
        const seen = new Map<number, bigint>();
        let batches = 0;
        for (const b of h.batches(chunk)) {
          batches++;
          expect(b.count).toBeGreaterThan(0);
          for (let i = 0; i < b.count; i++) seen.set(b.keys.readUInt32LE(i * 4), b.values.readBigUInt64LE(i * 8));
        }
        expect(seen).toEqual(expected);
        if (chunk === 4096) expect(batches).toBe(1);
        if (chunk === 64) expect(batches).toBeGreaterThanOrEqual(COUNT / 64);
      }
      // An array map takes the key-iteration path, in batches all the same.
      const arr = obj.map('array');
      arr.update(u32Key(5), u64Key(55));
      const fromArray = [...arr.batches(3)].map((b) => b.count);
      expect(fromArray).toEqual([3, 3, 2]);

      expect(entriesOf(h, h.drain(50))).toEqual(expected);
      expect([...h.keys()]).toHaveLength(0);
      expect(h.entries()).toHaveLength(0);
    } finally {
      obj.close();
    }
  });

  it('hash written by the raw_tp program: key 110 holds the getppid() count', () => {
    const obj = loadProbes();
    try {
      const h = obj.map('hash');
      const [link] = obj.attach('raw_sys_enter');
      getppid(321);
      link!.detach();
      expect(u64(h.lookup(u32Key(NR_GETPPID)))).toBe(321n);
      const rows = entriesOf(h, h.entries());
      expect(rows.get(NR_GETPPID)).toBe(321n);
      // Each hit lands in one key (other threads of this process race on new keys: at most that many).
      const sum = [...rows.values()].reduce((a, b) => a + b, 0n);
      expect(sum).toBeLessThanOrEqual(obj.readGlobalInt('hits_raw_tp'));
      const drained = entriesOf(h, h.drain());
      expect(drained).toEqual(rows);
      expect(h.lookup(u32Key(NR_GETPPID))).toBeUndefined();
    } finally {
      obj.close();
    }
  });

  it('array: every index exists; delete is refused; drain() and clear() zero', () => {
    const obj = loadProbes();
    try {
      const a = obj.map('array');
      expect([a.type, a.maxEntries, a.perCpu]).toEqual(['array', 8, false]);
      expect(entriesOf(a, a.entries())).toEqual(new Map(Array.from({ length: 8 }, (_, i) => [i, 0n])));
      a.update(u32Key(3), u64Key(33));
      a.update(u32Key(7), u64Key(77));
      expect(u64(a.lookup(u32Key(3)))).toBe(33n);
      expect(a.lookup(u32Key(8))).toBeUndefined(); // out of range
      expect(thrown(() => a.update(u32Key(8), u64Key(1))).code).toBe('E2BIG');
      expect(thrown(() => a.delete(u32Key(3))).code).toBe('EINVAL');
      expect(entriesOf(a, a.entries()).get(7)).toBe(77n);
      // drain() reads every index and zeroes it (array entries cannot be removed).
      const drained = entriesOf(a, a.drain());
      expect(drained.size).toBe(8);
      expect([drained.get(3), drained.get(7), drained.get(0)]).toEqual([33n, 77n, 0n]);
      expect([...entriesOf(a, a.entries()).values()]).toEqual(Array(8).fill(0n));
      a.update(u32Key(5), u64Key(55));
      a.clear();
      expect([...entriesOf(a, a.entries()).values()]).toEqual(Array(8).fill(0n));
    } finally {
      obj.close();
    }
  });

  it('percpu array: one value per possible CPU; drain() zeroes them', () => {
    const obj = loadProbes();
    try {
      const p = obj.map('percpu');
      const cpus = possibleCpus();
      expect(p.perCpu).toBe(true);
      expect(p.valueBytes).toBe(8 * cpus);
      const v = Buffer.alloc(p.valueBytes);
      for (let c = 0; c < cpus; c++) v.writeBigUInt64LE(BigInt(100 + c), 8 * c);
      p.update(u32Key(0), v);
      const got = p.perCpuValues(p.lookup(u32Key(0))!).map((b) => b.readBigUInt64LE(0));
      expect(got).toEqual(Array.from({ length: cpus }, (_, c) => BigInt(100 + c)));
      const rows = p.entries();
      expect(rows).toHaveLength(1);
      expect(rows[0]![1].equals(v)).toBe(true);
      const drained = p.drain();
      expect(drained).toHaveLength(1);
      expect(drained[0]![1].equals(v)).toBe(true);
      expect(p.lookup(u32Key(0))!.equals(Buffer.alloc(p.valueBytes))).toBe(true);
      if (cpus > 1) expect(thrown(() => p.update(u32Key(0), u64Key(1)))).toBeInstanceOf(UsageError);
    } finally {
      obj.close();
    }
  });

  it('key and value sizes are checked; unknown maps and closed objects are errors', () => {
    const obj = loadProbes();
    const h = obj.map('hash');
    try {
      for (const err of [
        thrown(() => h.lookup(Buffer.alloc(8))),
        thrown(() => h.update(u32Key(1), Buffer.alloc(4))),
        thrown(() => h.update(Buffer.alloc(2), u64Key(1))),
        thrown(() => h.delete(Buffer.alloc(5))),
        thrown(() => h.lookupAndDelete(Buffer.alloc(3))),
        thrown(() => obj.map('nosuch')),
      ]) {
        expect(err).toBeInstanceOf(UsageError);
        expect(err.code).toBe('EUSAGE');
      }
      expect(thrown(() => h.lookup(Buffer.alloc(8))).message).toBe('map hash: key is 8 bytes, expected 4');
      expect(obj.map('events').type).toBe('ringbuf'); // cached: must not outlive close()
      expect(obj.map('perf_events').type).toBe('perf_event_array');
    } finally {
      obj.close();
    }
    expect(thrown(() => h.lookup(u32Key(1)))).toBeInstanceOf(ClosedError);
    expect(thrown(() => [...h.keys()])).toBeInstanceOf(ClosedError);
    expect(thrown(() => obj.map('hash'))).toBeInstanceOf(ClosedError);
    expect(thrown(() => obj.ringBuffer('events', () => {}))).toBeInstanceOf(ClosedError); // not a reader on a stale fd
    expect(thrown(() => obj.perfBuffer('perf_events', () => {}))).toBeInstanceOf(ClosedError);
    expect(thrown(() => obj.readGlobal('seq'))).toBeInstanceOf(ClosedError);
    expect(thrown(() => obj.attach('getppid_ring'))).toBeInstanceOf(ClosedError);
  });
});

// ---- 6. config ----------------------------------------------------------------------

describe('config (.rodata) and globals', () => {
  it('targ_tgid picks the traced process and magic reaches its events; readGlobal returns both', async () => {
    const GETPPIDS = 40;
    const w = await Workload.start(workloadBin, 0, GETPPIDS);
    const mine = loadProbes({ magic: 0xfeedn });
    const theirs = loadProbes({ targ_tgid: w.pid, magic: 0xbeefn });
    try {
      const a: Event[] = [];
      const b: Event[] = [];
      const ra = mine.ringBuffer('events', (v, o, l) => a.push(decodeEvent(v, o, l)));
      const rb = theirs.ringBuffer('events', (v, o, l) => b.push(decodeEvent(v, o, l)));
      mine.attach('getppid_ring');
      theirs.attach('getppid_ring');
      getppid(30);
      await w.round();
      ra.flush();
      rb.flush();
      expect(mine.readGlobalInt('hits_tracepoint')).toBe(30n);
      expect(theirs.readGlobalInt('hits_tracepoint')).toBe(BigInt(GETPPIDS));
      expect(a).toHaveLength(30);
      expect(b).toHaveLength(GETPPIDS);
      expect(a.every((e) => e.tgid === process.pid && e.magic === 0xfeedn)).toBe(true);
      expect(b.every((e) => e.tgid === w.pid && e.magic === 0xbeefn && e.comm === 'workload')).toBe(true);

      expect(mine.readGlobalInt('magic')).toBe(0xfeedn);
      expect(mine.readGlobalInt('targ_tgid')).toBe(BigInt(process.pid));
      expect(theirs.readGlobalInt('targ_tgid')).toBe(BigInt(w.pid));
      expect(theirs.readGlobal('magic').equals(u64Key(0xbeef))).toBe(true);
      // Set by load(): a quarter of the ring.
      expect(mine.readGlobalInt('ebpf_wakeup_bytes')).toBe(BigInt(RING_BYTES / 4));
    } finally {
      mine.close();
      theirs.close();
      await w.stop();
    }
  });

  it('without config the program traces nobody; .bss initial values and explicit ebpf_wakeup_bytes are kept', () => {
    const spec = ObjectSpec.fromFile(PROBES);
    spec.setGlobal('seq', 1000).setGlobal('ebpf_wakeup_bytes', 0).setConfig({ magic: undefined });
    const obj = spec.load();
    try {
      obj.attach('getppid_ring');
      getppid(20);
      expect(obj.readGlobalInt('hits_tracepoint')).toBe(0n); // targ_tgid 0 matches no process
      expect(obj.readGlobalInt('magic')).toBe(0n);
      expect(obj.readGlobalInt('seq')).toBe(1000n);
      expect(obj.readGlobalInt('ebpf_wakeup_bytes')).toBe(0n);
    } finally {
      obj.close();
    }
    const spec2 = ObjectSpec.fromFile(PROBES).setConfig({ targ_tgid: process.pid }).setGlobal('seq', 1000);
    const obj2 = spec2.load();
    try {
      const events: Event[] = [];
      const ring = obj2.ringBuffer('events', (v, o, l) => events.push(decodeEvent(v, o, l)));
      obj2.attach('getppid_ring');
      getppid(3);
      ring.flush();
      expect(seqs(events)).toEqual([1000n, 1001n, 1002n]);
      expect(obj2.readGlobalInt('seq')).toBe(1003n); // the live value
    } finally {
      obj2.close();
    }
  });

  it('bad config: unknown globals and values that do not fit are UsageErrors', () => {
    const spec = ObjectSpec.fromFile(PROBES);
    try {
      const cases: Array<[string, () => unknown, string]> = [
        ['unknown', () => spec.setGlobal('no_such_global', 1), 'has no global variable no_such_global'],
        ['unknown via setConfig', () => spec.setConfig({ targ_pid: 1 }), 'has no global variable targ_pid'],
        ['u32 overflow', () => spec.setConfig({ targ_tgid: 2 ** 32 }), 'does not fit'],
        ['u64 overflow', () => spec.setGlobal('magic', 1n << 64n), 'does not fit'],
        ['not an integer', () => spec.setGlobal('targ_tgid', 1.5), 'not an integer'],
        ['string too long', () => spec.setGlobal('targ_tgid', 'abcd'), 'does not fit'],
        ['bytes too long', () => spec.setGlobal('magic', new Uint8Array(9)), 'do not fit'],
      ];
      for (const [what, fn, text] of cases) {
        const err = thrown(fn);
        expect(err, what).toBeInstanceOf(UsageError);
        expect(err.message, what).toContain(text);
      }
      // Nothing half-written: the spec still loads with its defaults.
      const obj = spec.load();
      try {
        expect(obj.readGlobalInt('targ_tgid')).toBe(0n);
        expect(obj.readGlobalInt('magic')).toBe(0n);
        expect(thrown(() => obj.readGlobal('no_such_global'))).toBeInstanceOf(UsageError);
      } finally {
        obj.close();
      }
      expect(thrown(() => spec.setGlobal('magic', 1))).toBeInstanceOf(ClosedError); // consumed by load()
    } finally {
      spec.close();
    }
  });
});

// ---- 7. verifier ----------------------------------------------------------------------

describe('verifier', () => {
  it("a rejected program is a LoadError with a one-line message and the verifier's log", () => {
    const before = bpfFds();
    const spec = ObjectSpec.fromFile(REJECTED);
    const err = thrown(() => spec.load());
    try {
      expect(err).toBeInstanceOf(LoadError);
      expect(err).toBeInstanceOf(EbpfError);
      expect(err.code).toBe('EACCES');
      expect(err.message).not.toContain('\n');
      expect(err.message).toContain('rejected');
      const log = (err as LoadError).log;
      expect(log).toContain("R0 invalid mem access 'map_value_or_null'");
      expect(log).toContain("prog 'unchecked_lookup'");
      // libbpf undid the half-done load: no program or map fds are left.
      expect(bpfFds().filter((f) => f.kind !== 'btf')).toEqual(before.filter((f) => f.kind !== 'btf'));
    } finally {
      spec.close();
      spec.close();
    }
    expect(bpfFds()).toEqual(before);
  });
});

// ---- 9. preflight ---------------------------------------------------------------------

describe('preflight', () => {
  it('tracefs and tracepoints', () => {
    const root = tracefsRoot();
    expect(['/sys/kernel/tracing', '/sys/kernel/debug/tracing']).toContain(root);
    expect(existsSync(`${root}/events/syscalls/sys_enter_getppid/id`)).toBe(true);
    expect(hasTracepoint('syscalls:sys_enter_getppid')).toBe(true);
    expect(hasTracepoint('syscalls:sys_enter_no_such_call')).toBe(false);
    expect(hasTracepoint('nosuch:thing')).toBe(false);
    expect(() => checkTracepoints(['syscalls:sys_enter_getppid', 'sched:sched_process_exec'])).not.toThrow();
    const err = thrown(() => checkTracepoints(['syscalls:sys_enter_getppid', 'nosuch:thing']));
    expect(err).toBeInstanceOf(PreflightError);
    expect(err.kind).toBe('no-tracepoint');
    expect(err.code).toBe('ENO_TRACEPOINT');
    expect(err.message).toBe('tracepoint nosuch:thing does not exist on this kernel');
  });

  it('privileges and BTF, as root', () => {
    expect(process.geteuid?.()).toBe(0);
    expect(() => checkPrivileges()).not.toThrow();
    expect(() => checkBtf()).not.toThrow();
    expect(() => preflight({ tracepoints: ['syscalls:sys_enter_getppid'] })).not.toThrow();
    expect((effectiveCapabilities() >> 21n) & 1n).toBe(1n); // CAP_SYS_ADMIN
    expect(hasTracingPrivileges()).toBe(true);
    expect(hasTracingPrivileges(0n)).toBe(false);
    expect(hasTracingPrivileges((1n << 39n) | (1n << 38n))).toBe(true); // CAP_BPF + CAP_PERFMON
    expect(hasTracingPrivileges(1n << 39n)).toBe(false); // CAP_BPF alone
  });

  it("as an unprivileged user: checkPrivileges() and load() fail with 'not-root'", () => {
    const script = `
      import(${JSON.stringify(CORE_DIST_INDEX)}).then(({ checkPrivileges, effectiveCapabilities, ObjectSpec }) => {
        const out = { uid: process.getuid(), caps: effectiveCapabilities().toString() };
        try { checkPrivileges(); out.check = 'ok'; } catch (e) { out.check = e.kind; }
        const spec = ObjectSpec.fromFile(${JSON.stringify(PROBES)});
        try { spec.load(); out.load = 'loaded'; }
        catch (e) { out.load = { name: e.name, kind: e.kind, code: e.code, message: e.message }; }
        console.log(JSON.stringify(out));
      });`;
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script],
      { encoding: 'utf8', timeout: 10_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.uid).toBe(65534);
    expect(out.caps).toBe('0');
    expect(out.check).toBe('not-root');
    expect(out.load).toEqual({
      name: 'PreflightError',
      kind: 'not-root',
      code: 'ENOT_ROOT',
      message: 'need root (or CAP_BPF and CAP_PERFMON) to load BPF programs',
    });
  });
});
