// opensnoop benchmark: one thread opening and closing one file in a loop
// (a fixed count), untraced, then traced by @ebpf/opensnoop and by
// libbpf-tools' /usr/sbin/opensnoop, in the same run, twice (the machine is
// shared: compare within a round, and across the two rounds for noise).
//   captured  rows printed for the storm's path vs opens performed
//   speed     the storm's open rate while traced, relative to untraced (the faster of
//             a run before and one after the traced ones)
//   CPU       the tool's own CPU seconds (user+sys) per million events
//   RSS       the tool's peak resident memory (VmHWM), and ours when idle
// Both tools write into a pipe read by a small C counter (so the reader costs
// little and none of it is the tool's); libbpf-tools runs under `stdbuf -oL`
// (line-buffered, as it must be to show its header through a pipe, and as the
// reference captures ran it).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, printTable, procStats, sleep, stopChild } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/opensnoop/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/opensnoop';
const OPENS = Number(process.env.BENCH_OPENS ?? 500_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

const storm = compileC('openstorm', `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = atol(argv[2]);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    int fd = open(argv[1], O_RDONLY);
    if (fd >= 0) close(fd);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.0f\\n", n / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
  return 0;
}`);

/** Runs the storm; resolves with its opens per second (measured around the loop only). */
function runStorm(target) {
  return new Promise((resolve, reject) => {
    const child = spawn(storm, [target, String(OPENS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(Number(out.trim())));
  });
}

// Reads a tool's output from a pipe: prints the first line (the header) at
// once, then at end of input how many lines end with " NEEDLE". Plain C, so
// the pipe's reader costs little, and nothing of it is counted as the tool's.
const counter = compileC('linecount', `
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char needle[4096];
  snprintf(needle, sizeof needle, " %s\\n", argv[1]);
  size_t nl = strlen(needle), have = 0;
  static char buf[1 << 17];
  long count = 0;
  int header = 0;
  for (;;) {
    ssize_t n = read(0, buf + have, sizeof buf - have);
    if (n <= 0) break;
    have += n;
    if (!header) {
      char *eol = memchr(buf, '\\n', have);
      if (eol) { fwrite(buf, 1, eol - buf + 1, stdout); fflush(stdout); header = 1; }
    }
    char *p = buf, *end = buf + have, *hit;
    while ((hit = memmem(p, end - p, needle, nl))) { count++; p = hit + nl; }
    size_t keep = nl - 1 < (size_t)(end - p) ? nl - 1 : (size_t)(end - p);
    memmove(buf, end - keep, keep);
    have = keep;
  }
  printf("%ld\\n", count);
  return 0;
}`);

async function traced(name, cmd, args, target) {
  const count = spawn(counter, [target], { stdio: ['pipe', 'pipe', 'inherit'] });
  let counted = '';
  count.stdout.setEncoding('utf8').on('data', (d) => (counted += d));
  const countDone = new Promise((r) => count.on('close', r));
  const child = spawn(cmd, args, { stdio: ['ignore', count.stdin, 'pipe'] });
  count.stdin.destroy(); // the tool holds the write end now
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const deadline = Date.now() + 20_000;
  while (!counted.includes('PATH\n')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start: ${stderr.trim()}`);
    await sleep(50);
  }
  await sleep(300);
  const idle = procStats(child.pid);
  const rate = await runStorm(target);
  // let the tool drain what is still buffered: wait until it stops using CPU
  let cpu = -1;
  for (let stat = procStats(child.pid); stat.cpu !== cpu; stat = procStats(child.pid)) {
    cpu = stat.cpu;
    await sleep(500);
  }
  const after = procStats(child.pid);
  await stopChild(child);
  await countDone;
  const seen = Number(counted.split('\n').filter(Boolean).at(-1));
  return { name, rate, seen, cpu: after.cpu - idle.cpu, peakRss: after.peakRss, idleRss: idle.peakRss, stderr: stderr.trim() };
}

export async function run() {
  console.log(`\n## opensnoop: open() storm, ${OPENS} open+close of one file by one thread, ${ROUNDS} rounds`);
  const hasRef = existsSync(REF);
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : '/tmp', 'ebpf-bench-opensnoop-'));
  const target = join(dir, 'target');
  writeFileSync(target, 'x');
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const rows = [['round', 'tool', 'captured', 'lost', 'storm opens/s', 'speed', 'CPU s/1M ev', 'peak RSS MB']];
  const results = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      // Untraced before and after; other load only ever slows the storm, so the faster is the baseline.
      const before = await runStorm(target);
      const ours = await traced('@ebpf/opensnoop', process.execPath, [...nodeFlags, CLI], target);
      const ref = hasRef ? await traced('libbpf-tools opensnoop', 'stdbuf', ['-oL', REF], target) : undefined;
      const after = await runStorm(target);
      const base = Math.max(before, after);
      rows.push([round, 'untraced', '', '', `${fmt(before, 0)}, ${fmt(after, 0)}`, '1.00×', '', '']);
      for (const r of [ours, ref]) {
        if (!r) continue;
        rows.push([round, r.name, `${r.seen}/${OPENS}`, OPENS - r.seen, fmt(r.rate, 0), `${fmt(r.rate / base, 2)}×`,
          fmt((r.cpu / Math.max(r.seen, 1)) * 1e6, 2), mb(r.peakRss)]);
      }
      results.push({ base, ours, ref });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(rows);
  for (const [i, { base, ours, ref }] of results.entries()) {
    const cpuPerM = (r) => (r.cpu / Math.max(r.seen, 1)) * 1e6;
    let line = `round ${i + 1}: ours captured ${fmt((100 * ours.seen) / OPENS, 2)}%, storm at ${fmt(ours.rate / base, 2)}× untraced ` +
      `(target ≥ 0.5), ${fmt(cpuPerM(ours), 2)} s CPU/1M events (target ≤ 1.5), peak RSS ${mb(ours.peakRss)} MB ` +
      `(idle ${mb(ours.idleRss)} MB; target ≤ 50)`;
    if (ref) {
      line += `\n         ours / libbpf-tools: captured ${fmt(ours.seen / Math.max(ref.seen, 1), 2)}, storm speed ${fmt(ours.rate / ref.rate, 2)}, ` +
        `CPU per event ${fmt(cpuPerM(ours) / cpuPerM(ref), 2)}, peak RSS ${fmt(ours.peakRss / ref.peakRss, 2)}`;
    }
    console.log(line);
    if (ours.stderr) console.log(`  ours stderr: ${ours.stderr.split('\n').slice(0, 3).join(' | ')}`);
    if (ref?.stderr) console.log(`  libbpf-tools stderr: ${ref.stderr.split('\n').length} lines, e.g. ${ref.stderr.split('\n')[0]}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
