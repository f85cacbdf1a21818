// Soak: does opensnoop's default ring lose anything under a long storm on a
// busy machine? opensnoop runs (default ring, output piped to a counter)
// while a paced storm opens one file ~50 000 times a second for 3 minutes
// and another process spins one thread per CPU, so every core stays busy
// and the tool competes for CPU all along. Reported: opens made, rows
// counted, the tool's own lost-events count, and the ring it used (-v).
// Want: zero lost. Only when named (`node bench/run.mjs soak`: minutes).
//   SOAK_SECONDS (180), SOAK_RATE (50000 opens/s), SOAK_ARGS (more flags
//   for ours: '-b 64' is the old fixed 512 KiB ring), SOAK_REF=1 also runs
//   libbpf-tools' opensnoop the same way, after ours.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfLinks, compileC, fmt, printTable, procStats, sleep, stopChild } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/opensnoop/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/opensnoop';
const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const RATE = Number(process.env.SOAK_RATE ?? 50_000);
const ARGS = (process.env.SOAK_ARGS ?? '').split(' ').filter(Boolean);

// Opens `path` at `rate` per second for `seconds`, paced by the clock (one
// held off the CPU catches up at once, as a real storm's backlog would);
// prints the opens made and the rate achieved. One per CPU, each a share.
const paced = compileC('pacedopen', `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  double rate = atof(argv[2]), secs = atof(argv[3]), t0 = now(), t;
  long n = 0;
  while ((t = now() - t0) < secs) {
    long due = (long)(rate * t);
    /* behind: catch up, but stop at the end (checking the clock every 256) */
    for (long i = 0; n < due && ((i & 255) || now() - t0 < secs); i++) { int fd = open(argv[1], O_RDONLY); if (fd >= 0) close(fd); n++; }
    usleep(1000);
  }
  printf("%ld %.0f\\n", n, n / (now() - t0));
  return 0;
}`);

// One spinning thread per CPU until killed: every core busy.
const spinner = compileC('spin', `
#include <pthread.h>
#include <stdlib.h>
static void *spin(void *a) { volatile unsigned long x = 0; for (;;) x++; return a; }
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  pthread_t t;
  for (int i = 1; i < n; i++) pthread_create(&t, 0, spin, 0);
  spin(0);
}`);

function runPaced(target, share) {
  return new Promise((resolve, reject) => {
    const child = spawn(paced, [target, String(share), String(SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', () => {
      const [opens, rate] = out.trim().split(' ').map(Number);
      resolve({ opens, rate });
    });
  });
}

/** The storm: one paced opener per CPU, RATE in all. */
async function runStorm(target) {
  const n = cpus().length;
  const parts = await Promise.all(Array.from({ length: n }, () => runPaced(target, RATE / n)));
  return { opens: parts.reduce((a, p) => a + p.opens, 0), rate: parts.reduce((a, p) => a + p.rate, 0) };
}

/** One soak of one tool: its rows through `grep -c` (C, cheap), the storm and the spinner beside it. */
async function soak(name, cmd, args, target) {
  const grep = spawn('grep', ['-c', '-F', '--', ` ${target}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let counted = '';
  grep.stdout.setEncoding('utf8').on('data', (d) => (counted += d));
  const grepDone = new Promise((r) => grep.on('close', r));
  const child = spawn(cmd, args, { stdio: ['ignore', grep.stdin, 'pipe'] });
  grep.stdin.destroy(); // the tool holds the write end now
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  // grep counts only at the end: the tool is attached once it holds its BPF links.
  const deadline = Date.now() + 30_000;
  while (bpfLinks(child.pid) < 2) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start: ${stderr.trim()}`);
    await sleep(50);
  }
  await sleep(500);
  const spin = spawn(spinner, [String(cpus().length)], { stdio: 'ignore' });
  const cpu0 = procStats(child.pid).cpu;
  const storm = await runStorm(target);
  spin.kill('SIGKILL');
  // let it drain: wait until it stops using CPU
  let cpu = -1;
  for (let s = procStats(child.pid); s.cpu !== cpu; s = procStats(child.pid)) {
    cpu = s.cpu;
    await sleep(500);
  }
  const stats = procStats(child.pid);
  await stopChild(child);
  await grepDone;
  const rows = Number(counted.trim());
  const toolLost = [...stderr.matchAll(/\blost (\d+)/gi)].reduce((a, m) => a + Number(m[1]), 0);
  return { name, ...storm, rows, toolLost, cpu: stats.cpu - cpu0, peakRss: stats.peakRss, stderr: stderr.trim() };
}

export async function run() {
  if (!process.argv.slice(2).includes('soak')) {
    console.log('\n## soak: skipped (minutes long; run it by name: node bench/run.mjs soak)');
    return;
  }
  console.log(`\n## soak: opensnoop, ${ARGS.length ? ARGS.join(' ') : 'default ring'}, ${SECONDS} s of ${RATE} opens/s, ${cpus().length} CPUs kept busy by a spinner`);
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : '/tmp', 'ebpf-bench-soak-'));
  const target = join(dir, 'target');
  writeFileSync(target, 'x');
  const results = [];
  try {
    // -v: the ring line (libbpf's debug lines go to stderr too, and are dropped below).
    results.push(await soak('@ebpf/opensnoop', process.execPath, [CLI, '-v', ...ARGS], target));
    if (process.env.SOAK_REF === '1' && existsSync(REF)) results.push(await soak('libbpf-tools opensnoop', 'stdbuf', ['-oL', REF], target));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [['tool', 'opens', 'opens/s', 'rows', 'missing', 'tool says lost', 'CPU s', 'peak RSS MB']];
  for (const r of results) {
    rows.push([r.name, r.opens, fmt(r.rate, 0), r.rows, r.opens - r.rows, r.toolLost, fmt(r.cpu, 1), fmt(r.peakRss / 2 ** 20, 1)]);
  }
  printTable(rows);
  for (const r of results) {
    const ring = /ring buffer [^\n]*/.exec(r.stderr)?.[0];
    if (ring) console.log(`${r.name}: ${ring}`);
    console.log(`${r.name}: lost ${fmt((100 * (r.opens - r.rows)) / Math.max(r.opens, 1), 3)}% (want 0)`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
