// offcputime benchmark: a context-switch storm (two threads of one process,
// pinned to one CPU, passing a byte back and forth over two pipes, so every
// switch goes from one to the other), untraced, traced by @ebpf/offcputime
// and traced by libbpf-tools' /usr/sbin/offcputime, each both filtered to
// the storm (-p) and system-wide, in rounds that alternate them (the
// machine is shared: alternating spreads the noise evenly).
//   cost/switch  the storm's own CPU time per context switch, traced minus
//                untraced: sched_switch runs in the switching threads, and
//                its BPF program's time is theirs (CPU time, not wall time:
//                other jobs on the shared cores do not count)
//   slowdown     the storm's wall time traced / untraced
//   seen         the storm's off-CPU time the tool reported, in seconds,
//                beside what it was: its two threads' wall time less their
//                CPU time (2 × wall − CPU, over the timed loop; the loop's
//                own blocks are all there is, give or take a thread start
//                and a join)
//   RSS          the tool's peak resident memory
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, median, printTable, procStats, sleep } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/offcputime/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/offcputime';
const TRIPS = Number(process.env.BENCH_OFFCPU_TRIPS ?? 200000);
const ROUNDS = Number(process.env.BENCH_OFFCPU_ROUNDS ?? 3);

// Waits for a line on stdin, runs TRIPS round trips, prints
// "trips switches cpu_ns wall_ns", waits for stdin to close. Frame pointers,
// so user stacks are walked as in a real program.
const stormSrc = `
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
static int ab[2], ba[2];
static long trips;
static void *echo(void *arg) {
  char c;
  for (long i = 0; i < trips; i++) {
    if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1) exit(1);
  }
  return arg;
}
static double ns(struct timespec t) { return t.tv_sec * 1e9 + t.tv_nsec; }
static long switches(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}
int main(int argc, char **argv) {
  cpu_set_t one;
  pthread_t t;
  char c = 'x';
  struct timespec c0, c1, w0, w1;
  trips = atol(argv[1]);
  CPU_ZERO(&one);
  CPU_SET(atoi(argv[2]), &one);
  if (sched_setaffinity(0, sizeof(one), &one) || pipe(ab) || pipe(ba)) return 1;
  setvbuf(stdout, NULL, _IONBF, 0);
  puts("ready");
  if (read(0, &c, 1) != 1) return 1;
  pthread_create(&t, NULL, echo, NULL);
  long s0 = switches();
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  clock_gettime(CLOCK_MONOTONIC, &w0);
  for (long i = 0; i < trips; i++) {
    if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &w1);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  long s1 = switches();
  pthread_join(t, NULL);
  printf("%ld %ld %.0f %.0f\\n", trips, s1 - s0, ns(c1) - ns(c0), ns(w1) - ns(w0));
  while (read(0, &c, 1) > 0) {}
  return 0;
}`;

// compileC builds with -O2; the storm wants frame pointers too.
const storm = compileC('ctxstorm', `#pragma GCC optimize ("no-omit-frame-pointer")\n${stormSrc}`);

/** Starts the storm (waiting); go() runs it and resolves with its numbers. */
function startStorm() {
  return new Promise((resolve, reject) => {
    const child = spawn(storm, [String(TRIPS), '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.on('error', reject);
    child.stdout.on('data', (d) => {
      const was = out;
      out += d;
      if (!was.startsWith('ready\n') && out.startsWith('ready\n')) {
        resolve({
          pid: child.pid,
          go: () =>
            new Promise((r) => {
              const check = () => {
                const m = out.slice(6).match(/^(\d+) (\d+) (\d+) (\d+)\n/);
                if (m) r({ switches: Number(m[2]), cpuNs: Number(m[3]), wallNs: Number(m[4]) });
                else setTimeout(check, 5);
              };
              child.stdin.write('x');
              check();
            }),
          stop: () =>
            new Promise((r) => {
              child.once('close', r);
              child.stdin.end();
            }),
        });
      }
    });
  });
}

function hasBpfLink(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:bpf_link';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** The storm's off-CPU microseconds in a BCC-style text report (either tool): the totals after its threads' lines. */
function offcpuUs(text) {
  const lines = text.split('\n');
  let us = 0;
  for (let i = 0; i < lines.length - 1; i++) if (/^ {4}- +ctxstorm \(\d+\)$/.test(lines[i])) us += Number(lines[i + 1].trim());
  return us;
}

/** One storm under a tool (or none): the storm's numbers, the tool's peak RSS and what it saw. */
async function round(tool, filtered) {
  const s = await startStorm();
  let child;
  let out = '';
  if (tool) {
    const args = filtered ? ['-p', String(s.pid)] : [];
    child = tool === 'ours' ? spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(REF, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    const deadline = Date.now() + 30000;
    while (!hasBpfLink(child.pid)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${tool} did not attach: ${err}`);
      await sleep(20);
    }
    await sleep(200); // past the start-up's own work
  }
  const r = await s.go();
  let peakRss = NaN;
  if (child) {
    peakRss = procStats(child.pid).peakRss;
    const closed = new Promise((res) => child.once('close', res));
    child.kill('SIGINT');
    await closed;
  }
  await s.stop();
  return { ...r, peakRss, seenS: child ? offcpuUs(out) / 1e6 : NaN };
}

const spread = (xs, d = 0) => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;

export async function run() {
  console.log(`\n## offcputime: context-switch storm, ${TRIPS} round trips of two threads on one CPU, ${ROUNDS} rounds (medians, min–max)`);
  const hasRef = existsSync(REF);
  const configs = [
    ['untraced', null, false],
    ['@ebpf/offcputime -p', 'ours', true],
    ...(hasRef ? [['libbpf-tools offcputime -p', 'ref', true]] : []),
    ['@ebpf/offcputime (all threads)', 'ours', false],
    ...(hasRef ? [['libbpf-tools offcputime (all threads)', 'ref', false]] : []),
  ];
  const results = new Map(configs.map(([name]) => [name, []]));
  for (let i = 0; i < ROUNDS; i++) for (const [name, tool, filtered] of configs) results.get(name).push(await round(tool, filtered));
  const base = results.get('untraced');
  const perSwitch = (r) => r.cpuNs / r.switches;
  const b = median(base.map(perSwitch));
  const bWall = median(base.map((r) => r.wallNs));
  const cost = (name) => median(results.get(name).map((r) => perSwitch(r) - b));
  const rows = [['configuration', 'switches', 'CPU ns/switch', 'cost ns/switch', 'slowdown', 'seen off-CPU s', 'actual s', 'peak RSS MB']];
  for (const [name, tool] of configs) {
    const rs = results.get(name);
    rows.push([
      name,
      fmt(median(rs.map((r) => r.switches)), 0),
      spread(rs.map(perSwitch)),
      tool ? spread(rs.map((r) => perSwitch(r) - b)) : '–',
      tool ? `${fmt(median(rs.map((r) => r.wallNs)) / bWall, 2)}×` : '1.00×',
      tool ? spread(rs.map((r) => r.seenS), 2) : '–',
      spread(rs.map((r) => (2 * r.wallNs - r.cpuNs) / 1e9), 2),
      tool ? mb(Math.max(...rs.map((r) => r.peakRss))) : '–',
    ]);
  }
  printTable(rows);
  if (hasRef) {
    console.log(
      `ratios of cost per switch, ours / libbpf-tools: -p ${fmt(cost('@ebpf/offcputime -p') / cost('libbpf-tools offcputime -p'), 2)}, ` +
        `all threads ${fmt(cost('@ebpf/offcputime (all threads)') / cost('libbpf-tools offcputime (all threads)'), 2)}`,
    );
  }
}
