// biolatency benchmark: a direct-I/O storm (4 KiB random O_DIRECT reads of a
// fixed count, one process per core) untraced, traced by @ebpf/biolatency,
// and traced by libbpf-tools' /usr/sbin/biolatency, in the same run.
//   storm speed  the storm's I/O rate while traced, relative to untraced
//                (BENCH_ROUNDS rounds of untraced / ours / reference; each traced
//                run against the untraced runs around it; the median ratio)
//   counted      I/Os in the tool's final histogram (other I/O on the disk adds)
//   CPU          the tool's own CPU seconds, and per million I/Os
//   RSS          the tool's peak resident memory
//   startup      spawn → banner line
// The machine is shared: rates move by several percent between runs.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, mb, median, printTable, procStats, sleep, startTool, timeRun } from './lib.mjs';
import { dioStorm, runDioStorm } from './support/diostorm.mjs';

const CLI = fileURLToPath(new URL('../packages/biolatency/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/biolatency';
const PER_PROC = Number(process.env.BENCH_IOS ?? 15000);
const PROCS = 2;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BANNER = /^Tracing block device I\/O/;

// bench/support/diostorm.c
const storm = dioStorm('diostorm');

/** All storm processes at once; returns I/Os per second. */
const runStorm = (file) => runDioStorm(storm, file, PROCS, PER_PROC);

/** The I/Os in the histogram(s) a tool printed. */
function histogramTotal(lines) {
  let n = 0;
  for (const l of lines) {
    const m = /^\s*\d+ -> \d+\s+: (\d+)/.exec(l);
    if (m) n += Number(m[1]);
  }
  return n;
}

async function traced(name, cmd, args, file) {
  const tool = await startTool(cmd, args, BANNER);
  const lines = [];
  tool.onLine((l) => lines.push(l));
  await sleep(200);
  const before = procStats(tool.child.pid);
  const rate = await runStorm(file);
  const after = procStats(tool.child.pid);
  await stop(tool);
  await sleep(100);
  return { name, rate, counted: histogramTotal(lines), cpu: after.cpu - before.cpu, peakRss: after.peakRss, stderr: tool.stderr().trim() };
}

/**
 * SIGINT, and SIGKILL if the tool has not exited 3 s later. libbpf-tools'
 * biolatency has a race: a SIGINT that lands between its banner and its
 * sleep() is handled before the sleep starts, which then lasts the whole
 * (default 99999999 s) interval.
 */
async function stop(tool) {
  const timer = setTimeout(() => tool.child.kill('SIGKILL'), 3000);
  try {
    return await tool.stop();
  } finally {
    clearTimeout(timer);
  }
}

/** Median speed ratio and rate, worst count, summed CPU, highest peak RSS over the rounds. */
function summarize(runs, around) {
  return {
    name: runs[0].name,
    rate: median(runs.map((r) => r.rate)),
    speed: median(runs.map((r, i) => r.rate / around(i))),
    counted: Math.min(...runs.map((r) => r.counted)),
    cpu: runs.reduce((a, r) => a + r.cpu, 0),
    ios: runs.length * PROCS * PER_PROC,
    peakRss: Math.max(...runs.map((r) => r.peakRss)),
    stderr: runs.map((r) => r.stderr).filter(Boolean).join(' | '),
  };
}

async function startup(cmd, args, n = 5) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = await startTool(cmd, args, BANNER);
    times.push(t.startMs);
    await sleep(100); // past the reference's race (see stop())
    await stop(t);
  }
  return median(times);
}

export async function run() {
  const total = PROCS * PER_PROC;
  console.log(`\n## biolatency: direct-I/O storm, ${PROCS} × ${PER_PROC} random 4 KiB O_DIRECT reads`);
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-bench-bio-'));
  const file = join(dir, 'data');
  try {
    await timeRun(storm, [file, 'prep', String(64 * 256)]); // 64 MiB
    const hasRef = existsSync(REF);
    const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    // Rounds of untraced, ours, reference: the medians damp the shared machine's noise.
    const bases = [];
    const oursRuns = [];
    const refRuns = [];
    for (let i = 0; i < ROUNDS; i++) {
      bases.push(await runStorm(file));
      oursRuns.push(await traced('@ebpf/biolatency', process.execPath, [...nodeFlags, CLI], file));
      // stdbuf: its stdout is fully buffered into a pipe, and the banner must arrive now
      if (hasRef) refRuns.push(await traced('libbpf-tools biolatency', 'stdbuf', ['-oL', REF], file));
    }
    bases.push(await runStorm(file));
    const base = median(bases);
    // Each traced run against the untraced runs on either side of it.
    const around = (i) => (bases[i] + bases[i + 1]) / 2;
    const ours = summarize(oursRuns, around);
    const ref = hasRef ? summarize(refRuns, around) : undefined;

    const oursStart = await startup(process.execPath, [CLI]);
    const refStart = hasRef ? await startup('stdbuf', ['-oL', REF]) : NaN;

    const row = (r, start) => [
      r.name,
      `${r.counted}/${total}`,
      `${fmt(r.speed, 3)}×`,
      fmt(r.cpu, 2),
      fmt((r.cpu / r.ios) * 1e6, 1),
      mb(r.peakRss),
      fmt(start, 1),
    ];
    const rows = [['tool', 'counted (worst round)', 'storm speed', 'CPU s (all rounds)', 'CPU s/1M I/O', 'peak RSS MB', 'start→banner ms']];
    rows.push(row(ours, oursStart));
    if (ref) rows.push(row(ref, refStart));
    console.log(`untraced storm: ${fmt(base, 0)} I/O/s (median of ${bases.map((b) => fmt(b, 0)).join(', ')}); ${ROUNDS} rounds`);
    printTable(rows);
    if (ref) {
      console.log('ratios (ours / libbpf-tools):');
      console.log(
        `  storm speed ${fmt(ours.speed / ref.speed, 3)}, CPU ${ref.cpu > 0 ? fmt(ours.cpu / ref.cpu, 2) : `n/a (libbpf-tools ${fmt(ref.cpu, 2)} s)`}, ` +
          `peak RSS ${fmt(ours.peakRss / ref.peakRss, 2)}, start→banner ${fmt(oursStart / refStart, 2)}`,
      );
    }
    if (ours.stderr) console.log(`ours stderr: ${ours.stderr}`);
    if (ref?.stderr) console.log(`libbpf-tools stderr: ${ref.stderr.split('\n').slice(0, 3).join(' | ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
