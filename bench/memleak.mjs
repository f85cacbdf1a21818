// memleak benchmark: a malloc/free loop, traced by @ebpf/memleak and by an
// equivalent bpftrace uprobe counter, in the same run.
//   cost per pair  the loop's own CPU clock: ns per malloc(64)+free pair, traced
//                  minus untraced (the price of every allocation and free
//                  accounted in the kernel)
//   bpftrace       uprobes on malloc and free that only count: what the
//                  probes alone cost when free() is probed at its entry
//                  (single-stepped), and with malloc's return probe too
//   tool           @ebpf/memleak's own CPU time and peak RSS over the run
//   stop           SIGINT → final report printed, SIGINT → process gone
// Each traced configuration runs ROUNDS times, interleaved; medians are
// printed with the spread. The machine is shared: other engineers' jobs run
// on the same two cores, so single runs vary by ±30% or more.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, median, printTable, procStats, sleep, startTool } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/memleak/dist/cli.js', import.meta.url));
const PAIRS = Number(process.env.BENCH_PAIRS ?? 200000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SYSTEM_LIBC = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6'].find((p) => existsSync(p));

// The loop runs on a private copy of the C library (LD_LIBRARY_PATH). A
// uprobe belongs to a file, not a process: bpftrace 0.17's -p does not
// filter uprobes, so probes on the system libc would trap in every process
// on this shared machine (and single-step every free() in them). On the
// copy they trap only in the loop. memleak filters by PID in the kernel, and
// finds the copy through /proc/PID/maps like any library.
const LIBDIR = mkdtempSync(join(tmpdir(), 'ebpf-bench-libc-'));
const LIBC = join(LIBDIR, 'libc.so.6');
if (SYSTEM_LIBC) copyFileSync(SYSTEM_LIBC, LIBC);

// Waits for a line on stdin, then times PAIRS malloc(64)+free pairs and
// prints nanoseconds per pair. The loop's own CPU time (CLOCK_PROCESS_CPUTIME_ID),
// not the wall clock: a uprobe's trap and BPF program run in the traced
// task and count as its CPU time, while time spent waiting for a CPU that
// other jobs on this shared machine hold does not.
const loop = compileC('mallocloop', `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  char c;
  struct timespec a, b;
  void *volatile p;
  setvbuf(stdout, NULL, _IONBF, 0);
  puts("ready");
  if (read(0, &c, 1) != 1) return 1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
  for (long i = 0; i < n; i++) { p = malloc(64); free(p); }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
  printf("%.1f\\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  while (read(0, &c, 1) > 0) {}
  return 0;
}`);

/** Starts the loop (waiting); `go()` runs it and resolves with ns per pair. */
function startLoop() {
  return new Promise((resolve, reject) => {
    const child = spawn(loop, [String(PAIRS)], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, LD_LIBRARY_PATH: LIBDIR } });
    let out = '';
    let waiter;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      if (out.startsWith('ready\n') && !waiter) {
        waiter = true;
        if (!readFileSync(`/proc/${child.pid}/maps`, 'utf8').includes(LIBC)) reject(new Error(`the loop does not run on ${LIBC}`));
        resolve({
          pid: child.pid,
          go: () =>
            new Promise((r) => {
              const check = () => {
                const m = out.slice(6).match(/^([\d.]+)\n/);
                if (m) r(Number(m[1]));
                else setTimeout(check, 5);
              };
              child.stdin.write('x');
              check();
            }),
          stop: () => new Promise((r) => {
            child.once('close', r);
            child.stdin.end();
          }),
        });
      }
    });
    child.on('error', reject);
  });
}

async function untraced() {
  const l = await startLoop();
  const ns = await l.go();
  await l.stop();
  return ns;
}

/** @ebpf/memleak -p on the loop: cost per pair, tool CPU/RSS, SIGINT → report → exit. */
async function memleakRun() {
  const l = await startLoop();
  const tool = await startTool(process.execPath, [CLI, '-p', String(l.pid), '3600'], /^Attaching to pid/);
  const before = procStats(tool.child.pid);
  const ns = await l.go();
  await sleep(100);
  const after = procStats(tool.child.pid);
  let reportAt;
  tool.onLine((line) => {
    if (reportAt === undefined && /^\[\d\d:\d\d:\d\d\] Top/.test(line)) reportAt = process.hrtime.bigint();
  });
  const t0 = process.hrtime.bigint();
  const exited = new Promise((r) => tool.child.once('close', () => r(process.hrtime.bigint())));
  tool.child.kill('SIGINT');
  const exitAt = await exited;
  await l.stop();
  return {
    ns,
    cpu: after.cpu - before.cpu,
    peakRss: after.peakRss,
    toReport: reportAt ? Number(reportAt - t0) / 1e6 : NaN,
    toExit: Number(exitAt - t0) / 1e6,
    stderr: tool.stderr().trim(),
  };
}

/** bpftrace counting malloc and free calls of the loop (free probed at its entry). */
async function bpftraceRun(withRet) {
  const l = await startLoop();
  const prog = [
    `uprobe:${LIBC}:malloc /pid == ${l.pid}/ { @malloc = count(); }`,
    withRet ? `uretprobe:${LIBC}:malloc /pid == ${l.pid}/ { @ret = count(); }` : '',
    `uprobe:${LIBC}:free /pid == ${l.pid}/ { @free = count(); }`,
  ].join(' ');
  // BEGIN runs once every probe is attached: its line is the start signal.
  const tool = await startTool('bpftrace', ['-e', `${prog} BEGIN { printf("ready\\n"); }`], /^ready$/);
  const ns = await l.go();
  const t0 = process.hrtime.bigint();
  const exited = new Promise((r) => tool.child.once('close', () => r(process.hrtime.bigint())));
  tool.child.kill('SIGINT');
  const exitAt = await exited;
  await l.stop();
  return { ns, toExit: Number(exitAt - t0) / 1e6 };
}

const spread = (xs) => `${fmt(median(xs), 0)} (${fmt(Math.min(...xs), 0)}–${fmt(Math.max(...xs), 0)})`;

export async function run() {
  console.log(`\n## memleak: malloc(64)+free loop, ${PAIRS} pairs, ${ROUNDS} rounds (medians, min–max)`);
  const hasBpftrace = existsSync('/usr/bin/bpftrace') && SYSTEM_LIBC;
  const base = [];
  const ours = [];
  const bt = [];
  const btRet = [];
  for (let i = 0; i < ROUNDS; i++) {
    base.push(await untraced());
    ours.push(await memleakRun());
    if (hasBpftrace) {
      bt.push(await bpftraceRun(false));
      btRet.push(await bpftraceRun(true));
    }
  }
  const b = median(base);
  const cost = (xs) => xs.map((x) => x - b);
  const oursNs = ours.map((r) => r.ns);
  const rows = [['configuration', 'ns/pair', 'cost ns/pair (traced − untraced)', 'slowdown', 'SIGINT→exit ms']];
  rows.push(['untraced', spread(base), '–', '1.00×', '–']);
  rows.push(['@ebpf/memleak -p (every alloc and free accounted)', spread(oursNs), spread(cost(oursNs)), `${fmt(median(oursNs) / b, 1)}×`, spread(ours.map((r) => r.toExit))]);
  if (bt.length) {
    rows.push(['bpftrace: count malloc + free uprobes', spread(bt.map((r) => r.ns)), spread(cost(bt.map((r) => r.ns))), `${fmt(median(bt.map((r) => r.ns)) / b, 1)}×`, spread(bt.map((r) => r.toExit))]);
    rows.push(['bpftrace: count malloc + malloc ret + free', spread(btRet.map((r) => r.ns)), spread(cost(btRet.map((r) => r.ns))), `${fmt(median(btRet.map((r) => r.ns)) / b, 1)}×`, spread(btRet.map((r) => r.toExit))]);
  }
  printTable(rows);
  if (bt.length) {
    const ratio = (xs) => fmt(median(cost(oursNs)) / median(cost(xs.map((r) => r.ns))), 2);
    console.log(`ratios of cost per pair: memleak / bpftrace(malloc+free) ${ratio(bt)}, memleak / bpftrace(malloc+ret+free) ${ratio(btRet)}`);
  }
  const cpu = ours.map((r) => r.cpu);
  console.log(
    `@ebpf/memleak itself: CPU ${spread(cpu.map((c) => c * 1000))} ms over ${PAIRS} pairs (user space; the probes run in the traced process), ` +
      `peak RSS ${mb(Math.max(...ours.map((r) => r.peakRss)))} MB`,
  );
  console.log(`stop: SIGINT → final report ${spread(ours.map((r) => r.toReport))} ms (target ≤ 500), SIGINT → exit ${spread(ours.map((r) => r.toExit))} ms (target ≤ 2000)`);
  console.log(`target: cost ≤ 4000 ns per malloc+free pair; median here ${fmt(median(cost(oursNs)), 0)} ns`);
  for (const r of ours) if (r.stderr) console.log(`memleak stderr: ${r.stderr.split('\n')[0]}`);
  rmSync(LIBDIR, { recursive: true, force: true });
}
