// Nothing is left behind: after close(), and after the process that loaded the
// programs ends (normally or by SIGKILL), no program, link, map or mapping of
// it remains, in the process or in the kernel (as bpftool lists them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PerfSoftware, PerfType, closeAll } from '../src/index.js';
import {
  CORE_DIST_INDEX,
  PROBES,
  PROBE_PROGRAMS,
  Workload,
  bpfFds,
  bpfMappings,
  buildWorkload,
  getppid,
  kernelLinks,
  kernelProgs,
  loadProbes,
  perfEventFds,
  stillLoaded,
  tempDir,
  type TempDir,
  waitUnloaded,
} from './helpers.js';

interface Ids {
  prog: number[];
  link: number[];
}

const idsOf = (fds: ReturnType<typeof bpfFds>): Ids => ({
  prog: fds.filter((f) => f.kind === 'prog').map((f) => f.id),
  link: fds.filter((f) => f.kind === 'link').map((f) => f.id),
});

/** Programs of probes.bpf.o the kernel lists, by name (15 chars at most there). */
const probeProgsLoaded = (): number[] =>
  kernelProgs()
    .filter((p) => p.name !== undefined && PROBE_PROGRAMS.includes(p.name))
    .map((p) => p.id);

let tmp: TempDir;
let workloadBin: string;

beforeAll(() => {
  tmp = tempDir('ebpf-core-lifecycle-');
  workloadBin = buildWorkload();
  // This file's process starts with no BPF resources: what is found later is ours.
  expect(bpfFds()).toEqual([]);
});

afterAll(() => {
  closeAll();
  tmp?.cleanup();
});

describe('close()', () => {
  it('releases every program, link, map, mapping and perf event; twice is fine', async () => {
    const w = await Workload.start(workloadBin, 5);
    const obj = loadProbes();
    let ids: Ids;
    try {
      // One of every hook kind, and both kinds of reader.
      const auto = obj.attach();
      expect(auto.map((l) => l.program).sort()).toEqual(['btf_sys_enter', 'getppid_perf', 'getppid_ring', 'raw_sys_enter']);
      obj.attachUprobe('on_uprobe', { binary: workloadBin, symbol: 'ebpftest_work', pid: w.pid });
      obj.attachUprobe('on_uretprobe', { binary: workloadBin, symbol: 'ebpftest_work', pid: w.pid, retprobe: true });
      obj.attachUsdt('on_usdt', { binary: workloadBin, provider: 'ebpftest', name: 'tick', pid: w.pid });
      const perf = obj.attachPerfEvent('on_perf_event', { type: PerfType.SOFTWARE, config: PerfSoftware.CPU_CLOCK, frequency: 99 });
      let ringRecords = 0;
      const ring = obj.ringBuffer('events', () => ringRecords++);
      const pb = obj.perfBuffer('perf_events', () => {});
      expect(obj.linkCount).toBe(7 + perf.length);
      getppid(10);
      await w.round();
      expect(obj.readGlobalInt('hits_uprobe')).toBe(5n);

      const fds = bpfFds();
      ids = idsOf(fds);
      expect(ids.prog).toHaveLength(PROBE_PROGRAMS.length);
      expect(ids.link).toHaveLength(obj.linkCount);
      expect(fds.some((f) => f.kind === 'map')).toBe(true);
      expect(bpfMappings().length).toBeGreaterThan(0);
      expect(perfEventFds()).toBeGreaterThan(0);
      // The kernel lists them, under the names of probes.bpf.c.
      expect(stillLoaded(ids)).toEqual(ids);
      expect(probeProgsLoaded().sort()).toEqual([...ids.prog].sort());

      obj.close();
      expect(ringRecords).toBe(10); // close() delivered what the ring held
      expect(ring.closed).toBe(true);
      expect(pb.closed).toBe(true);
      expect(obj.closed).toBe(true);
      expect(obj.linkCount).toBe(0);
      obj.close(); // idempotent
    } finally {
      obj.close();
      await w.stop();
    }
    expect(bpfFds()).toEqual([]); // no bpf-prog, bpf_link, bpf-map or btf fd
    expect(bpfMappings()).toEqual([]);
    expect(perfEventFds()).toBe(0);
    expect(await waitUnloaded(ids)).toEqual({ prog: [], link: [] });
    expect(probeProgsLoaded()).toEqual([]);
  });

  it('closeAll() closes what was left open (it also runs at process exit)', async () => {
    const a = loadProbes();
    const b = loadProbes();
    a.attach('getppid_ring');
    b.attach('raw_sys_enter');
    const ids = idsOf(bpfFds());
    expect(ids.link).toHaveLength(2);
    closeAll();
    expect(a.closed && b.closed).toBe(true);
    expect(bpfFds()).toEqual([]);
    expect(await waitUnloaded(ids)).toEqual({ prog: [], link: [] });
  });
});

describe('a process that loaded programs ends', () => {
  // Loads probes.bpf.o, attaches every kind it can without a workload, prints
  // its program and link ids (from /proc/self/fdinfo), then waits for stdin to
  // close and ends normally (without calling close()), or waits to be killed.
  const CHILD = `
import { ObjectSpec, PerfType, PerfSoftware } from ${JSON.stringify(CORE_DIST_INDEX)};
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';

const spec = ObjectSpec.fromFile(${JSON.stringify(PROBES)});
spec.setConfig({ targ_tgid: process.pid });
const obj = spec.load();
obj.attach();
obj.attachPerfEvent('on_perf_event', { type: PerfType.SOFTWARE, config: PerfSoftware.CPU_CLOCK, frequency: 99 });
const ids = { prog: [], link: [] };
for (const fd of readdirSync('/proc/self/fd')) {
  let target, info;
  try {
    target = readlinkSync('/proc/self/fd/' + fd);
    info = readFileSync('/proc/self/fdinfo/' + fd, 'utf8');
  } catch { continue; }
  if (target === 'anon_inode:bpf-prog') ids.prog.push(Number(info.match(/^prog_id:\\s*(\\d+)/m)[1]));
  if (target === 'anon_inode:bpf_link') ids.link.push(Number(info.match(/^link_id:\\s*(\\d+)/m)[1]));
}
console.log('attached ' + JSON.stringify(ids));
process.stdin.resume(); // ends when stdin closes: no close(), no process.exit()
`;

  async function runChild(end: 'exit' | 'SIGKILL'): Promise<void> {
    const script = join(tmp.dir, 'child.mjs');
    writeFileSync(script, CHILD);
    const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const rl = createInterface({ input: child.stdout });
        rl.once('line', resolve);
        child.once('exit', () => reject(new Error(`child ended before attaching: ${stderr}`)));
      });
      expect(line).toMatch(/^attached /);
      const ids = JSON.parse(line.slice('attached '.length)) as Ids;
      expect(ids.prog).toHaveLength(PROBE_PROGRAMS.length);
      expect(ids.link.length).toBeGreaterThanOrEqual(5); // 4 by section + one perf event per CPU
      // While it runs, the kernel has them.
      expect(stillLoaded(ids)).toEqual(ids);
      expect(kernelLinks().filter((l) => ids.link.includes(l.id)).every((l) => ids.prog.includes(l.prog_id))).toBe(true);
      expect(probeProgsLoaded().sort()).toEqual([...ids.prog].sort());

      if (end === 'exit') child.stdin.end();
      else child.kill('SIGKILL');
      const how = await exited;
      if (end === 'exit') expect(how).toEqual({ code: 0, signal: null });
      else expect(how).toEqual({ code: null, signal: 'SIGKILL' });
      expect(stderr).toBe('');

      expect(await waitUnloaded(ids)).toEqual({ prog: [], link: [] });
      expect(probeProgsLoaded()).toEqual([]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  }

  it('normally, without calling close(): nothing of it remains', async () => {
    await runChild('exit');
  });

  it('killed with SIGKILL: nothing of it remains', async () => {
    await runChild('SIGKILL');
  });
});
