// ebpf-exporter against real servers: Debian's Prometheus (started here on
// 127.0.0.1 with a temporary config and data directory) scrapes the CLI,
// and a small OTLP/HTTP receiver in this process takes its pushes. Known
// workloads run with a marker comm (a C program of that name): execs,
// exits by code and by signal, failed opens, ignored signals, loopback TCP
// sessions of known bytes, and O_DIRECT reads on a loop device the test
// creates (never a real disk). The exporter runs with --labels cgroup: a
// second marker runs its execs, failed opens and signals inside a cgroup v2
// directory the test makes (and removes), and its series carry that path. Values are read back through Prometheus'
// HTTP API and from the decoded OTLP payload.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { basename, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { biolatency, type Biolatency } from '@ebpf/biolatency';
import { BOUNDS, SLOTS } from '../src/index.js';
import { bpfLinks } from '../../../test/support/bpf.js';
import { AS_NOBODY, Cli, errorLine } from '../../../test/support/cli.js';
import { tempDir, type TempDir } from '../../../test/support/tmp.js';
import { DEADLINE, until } from '../../../test/support/wait.js';
import { compileC, run, start as startChild, type Child } from '../../../test/support/workload.js';
import { cgroup2Root, containers, type Containers } from '../../../test/support/container.js';
import { otlpReceiver, type OtlpMetric, type Receiver } from './otlp.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const EXECS = 12; // runs of the marker program in all (below)
const OPENS = 25;
const SIGS = 7;
const SESSIONS = 5;
const TX = 100_000;
const RX = 37_000;
const READS = 300;
const CG_EXECS = 5; // runs of the second marker inside the cgroup: CG_EXECS exits, one `open`, one `sig`
const CG_OPENS = 9;
const WAIT = 60_000; // scrapes every second, pushes every second: well inside this

let tmp: TempDir;
let marker: string;
let exporter: Cli;
let prom: Child;
let promUrl: string;
let recv: Receiver;
let tcp: Server;
let loop: string | undefined;
let bio: Biolatency;
let cg: Containers;
let cgMarker: string;
/** The cgroup label values: the test's cgroup, and this process's own (the first marker's). */
let cgPath: string;
let selfPath: string;
const bioLoop = new Float64Array(SLOTS + 1);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Prometheus' instant query: the samples' values by their labels' JSON. */
async function query(q: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Waits until Prometheus answers `q` with one sample for which `ok` holds; returns its value. */
async function promValue(q: string, ok: (v: number) => boolean): Promise<number> {
  let last: unknown = [];
  let lost: unknown = [];
  await until(
    async () => {
      const r = await query(q);
      last = r;
      lost = (await query('ebpf_exporter_lost_events_total > 0')).map((s) => [s.metric.tool, s.value]);
      return r.length === 1 && ok(r[0]!.value);
    },
    () => `Prometheus: ${q} (last answer ${JSON.stringify(last)}; tools with losses: ${JSON.stringify(lost)})`,
    WAIT,
    250,
  );
  return (last as Array<{ value: number }>)[0]!.value;
}

const point = (ms: OtlpMetric[], name: string, attrs: Record<string, string>) =>
  ms.find((m) => m.name === name)?.points.find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));

/** The exporter's block I/O slots for a disk in the last OTLP push, summed over operations. */
function otlpSlots(disk: string): { slots: number[]; count: number } {
  const slots: number[] = Array(SLOTS + 1).fill(0);
  let count = 0;
  for (const p of recv.latest.find((m) => m.name === 'ebpf_block_io_latency_seconds')?.points ?? []) {
    if (p.attributes.disk !== disk) continue;
    p.counts!.forEach((c, i) => (slots[i]! += c));
    count += p.count!;
  }
  return { slots, count };
}

beforeAll(async () => {
  tmp = tempDir('exporter-test-');
  marker = `exm${process.pid % 100000}`;
  const bin = compileC(new URL('./c/exwl.c', import.meta.url), { name: marker });
  expect(basename(bin)).toBe(marker);
  cgMarker = `exg${process.pid % 100000}`;
  const cgBin = compileC(new URL('./c/exwl.c', import.meta.url), { name: cgMarker });
  cg = containers();
  cgPath = `/${relative(cgroup2Root(), cg.cgroup)}`;
  selfPath = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);

  // The loop device: a 16 MiB file in the temporary directory.
  const img = join(tmp.dir, 'disk.img');
  execFileSync('truncate', ['-s', '16M', img]);
  loop = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
  bio = biolatency({ perDisk: true });

  // TCP: each session sends TX bytes here and gets RX back.
  tcp = createServer((s) => {
    s.on('data', () => {});
    s.on('end', () => s.end(Buffer.alloc(RX, 'y')));
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));

  recv = await otlpReceiver();
  exporter = new Cli(CLI, ['--listen', '127.0.0.1:0', '--otlp', recv.url, '--otlp-interval', '1', '--comm-limit', '100000', '--labels', 'cgroup', '--cgroup-limit', '100000']);
  await until(() => /on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(exporter.stderr) || exporter.proc.exitCode !== null, 'the exporter to listen', DEADLINE.start);
  const port = Number(/127\.0\.0\.1:(\d+)\/metrics/.exec(exporter.stderr)?.[1]);
  expect(port, exporter.stderr).toBeGreaterThan(0);

  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const config = join(tmp.dir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: ebpf\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`);
  prom = startChild('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(tmp.dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  // Ready once its HTTP API answers (refused connections until then).
  await until(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true, 'Prometheus to be ready', DEADLINE.start, 100);
  await promValue('up{job="ebpf"}', (v) => v === 1);

  // The workloads, once the exporter runs.
  const runs = [
    await run(bin, ['exit']),
    await run(bin, ['open', String(OPENS)]),
    await run(bin, ['connect', String(SESSIONS), String((tcp.address() as AddressInfo).port), String(TX)]),
    await run(bin, ['sig', String(SIGS)]),
  ];
  for (let i = runs.length; i < EXECS; i++) runs.push(await run(bin, ['exit']));
  // The second marker, inside the test's cgroup.
  const cgRuns = [await run(...cg.inCgroup(cgBin, ['open', String(CG_OPENS)])), await run(...cg.inCgroup(cgBin, ['sig', String(SIGS)]))];
  for (let i = 0; i < CG_EXECS; i++) cgRuns.push(await run(...cg.inCgroup(cgBin, ['exit'])));
  expect(cgRuns.map((r) => r.code ?? r.signal)).toEqual([3, 'SIGTERM', ...Array(CG_EXECS).fill(3)]);
  expect(runs.map((r) => r.code ?? r.signal)).toEqual([3, 3, 3, 'SIGTERM', ...Array(EXECS - 4).fill(3)]);
  expect(Number(runs[2]!.stdout)).toBe(SESSIONS * RX);
  const dio = compileC(new URL('../../biolatency/test/c/dio.c', import.meta.url));
  const r = await run(dio, [loop, 'read', String(READS)]);
  expect(r.stdout.trim()).toBe(String(READS));
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  if (exporter) {
    exporter.proc.kill('SIGTERM');
    await exporter.exited;
  }
  await recv?.close();
  tcp?.close();
  bio?.close();
  if (loop) execFileSync('losetup', ['-d', loop]);
  await cg?.cleanup();
  tmp?.cleanup();
});

describe('Prometheus scrapes ebpf-exporter', () => {
  it('execs and exits of the marker command: exact counts, exit code 3 and SIGTERM', async () => {
    await promValue(`ebpf_execs_total{comm="${marker}",cgroup="${selfPath}"}`, (v) => v === EXECS);
    await promValue(`ebpf_exits_total{comm="${marker}",code="3",signal="",cgroup="${selfPath}"}`, (v) => v === EXECS - 1);
    await promValue(`ebpf_exits_total{comm="${marker}",code="",signal="SIGTERM",cgroup="${selfPath}"}`, (v) => v === 1);
  }, 90_000);

  it('failed opens by errno, ignored signals by signal and result', async () => {
    await promValue(`ebpf_open_errors_total{comm="${marker}",errno="ENOENT",cgroup="${selfPath}"}`, (v) => v === OPENS);
    await promValue(`ebpf_signals_total{signal="SIGUSR1",result="ignored",cgroup="${selfPath}"}`, (v) => v >= SIGS);
  }, 90_000);

  it("--labels cgroup: the second marker's execs, exits, failed opens and signals under the test's cgroup path, exact", async () => {
    expect(cgPath).not.toBe(selfPath);
    await promValue(`ebpf_execs_total{comm="${cgMarker}",cgroup="${cgPath}"}`, (v) => v === CG_EXECS + 2);
    await promValue(`ebpf_exits_total{comm="${cgMarker}",code="3",signal="",cgroup="${cgPath}"}`, (v) => v === CG_EXECS + 1);
    await promValue(`ebpf_exits_total{comm="${cgMarker}",code="",signal="SIGTERM",cgroup="${cgPath}"}`, (v) => v === 1);
    await promValue(`ebpf_open_errors_total{comm="${cgMarker}",errno="ENOENT",cgroup="${cgPath}"}`, (v) => v === CG_OPENS);
    // Only the marker sends signals in that cgroup: the count is exact.
    await promValue(`ebpf_signals_total{signal="SIGUSR1",result="ignored",cgroup="${cgPath}"}`, (v) => v === SIGS);
    // Every one of its events is there: none under another cgroup, "other" or "unknown".
    await promValue(`sum(ebpf_execs_total{comm="${cgMarker}"})`, (v) => v === CG_EXECS + 2);
    await promValue(`sum(ebpf_open_errors_total{comm="${cgMarker}"})`, (v) => v === CG_OPENS);
    // Labels on the per-process metrics only.
    const labelled = await query(`count by (__name__) ({cgroup!=""})`);
    expect(labelled.map((s) => s.metric.__name__).sort()).toEqual(['ebpf_execs_total', 'ebpf_exits_total', 'ebpf_open_errors_total', 'ebpf_signals_total']);
  }, 90_000);

  it('TCP sessions: count, bytes per direction equal to what was sent and received, durations', async () => {
    await promValue(`ebpf_tcp_sessions_total{comm="${marker}",side="active"}`, (v) => v === SESSIONS);
    await promValue(`ebpf_tcp_bytes_total{comm="${marker}",direction="tx"}`, (v) => v === SESSIONS * TX);
    await promValue(`ebpf_tcp_bytes_total{comm="${marker}",direction="rx"}`, (v) => v === SESSIONS * RX);
    await promValue('ebpf_tcp_session_duration_seconds_count', (v) => v >= SESSIONS * 2);
  }, 90_000);

  it('block I/O on the loop device: cumulative le buckets in seconds, as many as biolatency counts, the running sums of the kernel slots', async () => {
    const disk = basename(loop!);
    const total = () => bioLoop.reduce((a, b) => a + b, 0);
    const readBio = () => {
      for (const h of bio.snapshot().histograms) {
        if (h.disk?.name !== disk) continue;
        h.buckets.forEach((c, i) => (bioLoop[Math.min(i, SLOTS)]! += c));
      }
    };
    // The reads are done: once biolatency has them all, Prometheus must show the same count.
    await until(() => (readBio(), total() >= READS), () => `biolatency to count ${READS} reads on ${disk} (has ${total()})`);
    const count = await promValue(`sum(ebpf_block_io_latency_seconds_count{disk="${disk}"})`, (v) => v === total());
    expect(count).toBeGreaterThanOrEqual(READS);
    const buckets = await query(`sum by (le) (ebpf_block_io_latency_seconds_bucket{disk="${disk}"})`);
    const byLe = new Map(buckets.map((b) => [b.metric.le, b.value]));
    expect(byLe.size).toBe(SLOTS + 1);
    // Two BPF programs time each I/O a few hundred ns apart, so an I/O near a
    // bound may fall in the next slot in one of them: the counts are equal,
    // the slots need not be. The exporter's own kernel slots come in its OTLP
    // push (per-slot counts, as the kernel keeps them); the scraped `le`
    // buckets must be their running sums.
    await until(() => otlpSlots(disk).count === total(), () => `OTLP block I/O count ${otlpSlots(disk).count} to reach ${total()}`, WAIT);
    const { slots } = otlpSlots(disk);
    let acc = 0;
    for (let i = 0; i < SLOTS; i++) {
      acc += slots[i]!;
      expect(byLe.get(String(BOUNDS[i])), `le=${BOUNDS[i]}`).toBe(acc);
    }
    expect(byLe.get('+Inf')).toBe(total());
    expect(BOUNDS[0]).toBe(0.000002); // slot 0 holds 0 and 1 us: all below 2 us
    const reads = await query(`ebpf_block_io_latency_seconds_count{disk="${disk}",op="read"}`);
    expect(reads[0]?.value).toBeGreaterThanOrEqual(READS);
  }, 90_000);

  it('losses are counters, one per tool; no pid label anywhere', async () => {
    const lost = await query('ebpf_exporter_lost_events_total');
    expect(lost.map((s) => s.metric.tool).sort()).toEqual(['biolatency', 'execsnoop', 'exitsnoop', 'oomkill', 'opensnoop', 'runqlat', 'sigsnoop', 'tcplife']);
    const labels = await (await fetch(`${promUrl}/api/v1/labels`)).json();
    expect((labels as { data: string[] }).data).not.toContain('pid');
  }, 90_000);
});

describe('OTLP/HTTP push to a receiver', () => {
  it('protobuf payloads with the same values: sums monotonic, units, histograms with the kernel slots', async () => {
    const want: Array<[string, Record<string, string>, number]> = [
      ['ebpf_execs', { comm: marker }, EXECS],
      ['ebpf_open_errors', { comm: marker, errno: 'ENOENT' }, OPENS],
      ['ebpf_tcp_bytes', { comm: marker, direction: 'tx' }, SESSIONS * TX],
      ['ebpf_tcp_bytes', { comm: marker, direction: 'rx' }, SESSIONS * RX],
    ];
    await until(
      () => want.every(([n, a, v]) => point(recv.latest, n, a)?.value === v),
      () => `OTLP values ${JSON.stringify(want.map(([n, a]) => [n, a, point(recv.latest, n, a)?.value]))}`,
      WAIT,
    );
    expect([...recv.contentTypes]).toEqual(['application/x-protobuf']);
    const execs = recv.latest.find((m) => m.name === 'ebpf_execs')!;
    expect([execs.kind, execs.monotonic, execs.unit]).toEqual(['sum', true, '1']);
    expect(recv.latest.find((m) => m.name === 'ebpf_tcp_bytes')!.unit).toBe('By');
    const disk = basename(loop!);
    await until(() => (point(recv.latest, 'ebpf_block_io_latency_seconds', { disk, op: 'read' })?.count ?? 0) >= READS, 'OTLP block I/O count', WAIT);
    const h = point(recv.latest, 'ebpf_block_io_latency_seconds', { disk, op: 'read' })!;
    expect(recv.latest.find((m) => m.name === 'ebpf_block_io_latency_seconds')!.unit).toBe('s');
    expect(h.bounds).toEqual([...BOUNDS]);
    expect(h.counts).toHaveLength(SLOTS + 1);
    expect(h.counts!.reduce((a, b) => a + b, 0)).toBe(h.count);
    expect(h.sum).toBeGreaterThan(0);
  }, 90_000);
});

describe('ebpf-exporter CLI', () => {
  it('bad input: one line, exit 2; not root: one line, exit 1', async () => {
    const runCli = (args: string[]) => new Cli(CLI, args).exited;
    expect(errorLine(await runCli(['--tools', 'nosuch']), 2)).toMatch(/^ebpf-exporter: unknown tool 'nosuch'/);
    expect(errorLine(await runCli(['--listen', 'x:99999']), 2)).toMatch(/--listen must be/);
    expect(errorLine(await runCli(['--otlp', 'ftp://x']), 2)).toMatch(/--otlp must be/);
    expect(errorLine(await runCli(['--comm-limit', '0']), 2)).toMatch(/comm limit must be a positive integer/);
    expect(errorLine(await runCli(['--labels', 'cgroup,pid']), 2)).toMatch(/^ebpf-exporter: unknown label 'pid' \(labels: cgroup\)$/);
    expect(errorLine(await runCli(['--labels', 'cgroup', '--cgroup-limit', 'x']), 2)).toMatch(/cgroup limit must be a positive integer/);
    const cfg = join(tmp.dir, 'bad.json');
    writeFileSync(cfg, '{"listen": "127.0.0.1:9", "colour": 1}');
    expect(errorLine(await runCli(['--config', cfg]), 2)).toMatch(/unknown key 'colour'/);
    expect(errorLine(await runCli(['--listen', 'none']), 2)).toMatch(/nothing to do/);
    // Not root: every tool refuses; one line with why, exit 1.
    expect(errorLine(await new Cli(CLI, [], { wrap: AS_NOBODY }).exited, 1)).toMatch(/^ebpf-exporter: no tool could start: .*need root/);
    expect(errorLine(await new Cli(CLI, ['--tools', 'execsnoop'], { wrap: AS_NOBODY }).exited, 1)).toMatch(/^ebpf-exporter: need root/);
  }, 60_000);

  it('a config file; SIGTERM and SIGHUP end it cleanly (exit 0, every probe detached)', async () => {
    const cfg = join(tmp.dir, 'good.json');
    writeFileSync(cfg, JSON.stringify({ tools: ['execsnoop', 'exitsnoop'], listen: '127.0.0.1:0', commLimit: 5 }));
    for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
      const cli = new Cli(CLI, ['--config', cfg]);
      await until(() => /on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(cli.stderr) || cli.proc.exitCode !== null, 'the exporter to listen', DEADLINE.start);
      expect(cli.stderr).toMatch(/^ebpf-exporter: execsnoop, exitsnoop on http:/);
      const port = /127\.0\.0\.1:(\d+)\/metrics/.exec(cli.stderr)![1];
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toContain('# TYPE ebpf_execs_total counter');
      expect(text).toContain('ebpf_exporter_lost_events_total{tool="execsnoop"} 0');
      expect(bpfLinks(cli.proc.pid!)).toBeGreaterThan(0);
      cli.proc.kill(sig);
      const e = await cli.exited;
      expect([e.code, e.signal], sig).toEqual([0, null]);
      expect(e.stderr).not.toMatch(/^\s+at /m);
    }
  }, 60_000);

  it('a collector that is not there: failed pushes counted, said once on stderr', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/v1/metrics`;
    const cli = new Cli(CLI, ['--tools', 'execsnoop', '--listen', '127.0.0.1:0', '--otlp', dead, '--otlp-interval', '1']);
    try {
      await until(() => cli.stderr.includes(`OTLP push to ${dead} failed`) || cli.proc.exitCode !== null, () => `a failed push line: ${cli.stderr}`, 45_000); // the SDK retries a refused push for some seconds first
      const port = /127\.0\.0\.1:(\d+)\/metrics/.exec(cli.stderr)![1];
      let failures = 0;
      await until(async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        failures = Number(/^ebpf_exporter_otlp_push_failures_total (\d+)$/m.exec(text)?.[1] ?? 0);
        return failures >= 1;
      }, () => `a failure counted (${failures})`, 45_000);
      expect(cli.stderr.split('failed:').length - 1).toBe(1);
    } finally {
      cli.proc.kill('SIGTERM');
      expect((await cli.exited).code).toBe(0);
    }
  }, 100_000);
});
