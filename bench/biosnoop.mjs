// biosnoop benchmark: a direct-I/O storm (4 KiB random O_DIRECT reads of a
// fixed count, one process per core, on a loop device the bench makes over
// a file in /var/tmp: no real disk is touched, and the loop device, its
// backing file in the page cache, is faster than this machine's disk, so
// the tool's cost per I/O shows) untraced, and traced by @ebpf/biosnoop
// printing a row per I/O (text, and --json) into a pipe, in the same run.
//   storm speed  the storm's I/O rate while traced, relative to untraced
//                (BENCH_ROUNDS rounds; each traced run against the untraced
//                runs around it; the median ratio)
//   rows         the storm's rows the tool printed (worst round), of its I/Os
//   CPU          the tool's own CPU seconds, and microseconds per I/O
//   RSS          the tool's peak resident memory
//   startup      spawn → header line
// No C reference runs here: libbpf-tools' /usr/sbin/biosnoop (0.26) loads
// fentry/blk_account_io_start and kprobe/blk_account_io_merge_bio, which
// this kernel refuses (no kprobes, no BPF trampolines: EPERM at load); BCC's
// Python tool attaches kprobes and compiles against kernel headers, absent
// here. So the table has no ratios, only our own cost. The machine is
// shared: rates move by several percent between runs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, mb, median, printTable, procStats, sleep, startTool, timeRun } from './lib.mjs';
import { dioStorm, runDioStorm } from './support/diostorm.mjs';

const CLI = fileURLToPath(new URL('../packages/biosnoop/dist/cli.js', import.meta.url));
const PER_PROC = Number(process.env.BENCH_IOS ?? 15000);
const PROCS = 2;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HEADER = /^TIME\(s\) +COMM/;

// bench/support/diostorm.c, under two names
const storm = dioStorm('biostorm');
const poke = dioStorm('biopoke');

/** All storm processes at once; returns I/Os per second. */
const runStorm = (file) => runDioStorm(storm, file, PROCS, PER_PROC);

async function traced(name, args, file) {
  const json = args.includes('--json');
  // --json has no header: its first row says it runs; biopoke (the storm's
  // code under another name, one read at a time) makes one.
  const starting = startTool(process.execPath, [CLI, ...args], json ? /^\{/ : HEADER);
  let up = false;
  starting.then(() => (up = true), () => (up = true));
  while (json && !up) {
    await timeRun(poke, [file, 'read', '1']);
    await sleep(50);
  }
  const tool = await starting;
  let rows = 0;
  tool.onLine((l) => {
    if (json ? l.includes('"comm":"biostorm"') : / biostorm /.test(l.slice(11, 28))) rows++;
  });
  await sleep(200);
  const before = procStats(tool.child.pid);
  const rate = await runStorm(file);
  await sleep(300); // the last rows through the pipe
  const after = procStats(tool.child.pid);
  await tool.stop();
  return { name, rate, rows, cpu: after.cpu - before.cpu, peakRss: after.peakRss, stderr: tool.stderr().trim() };
}

function summarize(runs, around) {
  return {
    name: runs[0].name,
    speed: median(runs.map((r, i) => r.rate / around(i))),
    rows: Math.min(...runs.map((r) => r.rows)),
    cpu: runs.reduce((a, r) => a + r.cpu, 0),
    ios: runs.length * PROCS * PER_PROC,
    peakRss: Math.max(...runs.map((r) => r.peakRss)),
    stderr: runs.map((r) => r.stderr).filter(Boolean).join(' | '),
  };
}

async function startup(n = 5) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = await startTool(process.execPath, [CLI], HEADER);
    times.push(t.startMs);
    await t.stop();
  }
  return median(times);
}

export async function run() {
  const total = PROCS * PER_PROC;
  console.log(`\n## biosnoop: direct-I/O storm, ${PROCS} × ${PER_PROC} random 4 KiB O_DIRECT reads of a loop device, a row per I/O into a pipe`);
  const dir = mkdtempSync(join('/var/tmp', 'ebpf-bench-biosnoop-'));
  const backing = join(dir, 'backing');
  execFileSync('truncate', ['-s', '64M', backing]);
  const file = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
  try {
    const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const variants = [
      ['@ebpf/biosnoop', []],
      ['@ebpf/biosnoop --json', ['--json']],
    ];
    const bases = [];
    const runs = variants.map(() => []);
    for (let i = 0; i < ROUNDS; i++) {
      bases.push(await runStorm(file));
      for (const [v, [name, args]] of variants.entries()) runs[v].push(await traced(name, [...nodeFlags, ...args], file));
    }
    bases.push(await runStorm(file));
    const around = (i) => (bases[i] + bases[i + 1]) / 2;
    const results = runs.map((r) => summarize(r, around));
    const start = await startup();
    const table = [['tool', 'rows (worst round)', 'storm speed', 'CPU s (all rounds)', 'CPU µs/I/O', 'peak RSS MB']];
    for (const r of results) {
      table.push([r.name, `${r.rows}/${total}`, `${fmt(r.speed, 3)}×`, fmt(r.cpu, 2), fmt((r.cpu / r.ios) * 1e6, 2), mb(r.peakRss)]);
    }
    console.log(`untraced storm: ${fmt(median(bases), 0)} I/O/s (median of ${bases.map((b) => fmt(b, 0)).join(', ')}); ${ROUNDS} rounds`);
    printTable(table);
    console.log(`start→header: ${fmt(start, 1)} ms (median of 5)`);
    console.log('no C reference here: libbpf-tools biosnoop fails to load (fentry and kprobe programs: EPERM on this kernel), BCC biosnoop needs kprobes and kernel headers');
    for (const r of results) if (r.stderr) console.log(`${r.name} stderr: ${r.stderr}`);
  } finally {
    execFileSync('losetup', ['--detach', file]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
