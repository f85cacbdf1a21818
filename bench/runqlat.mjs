// runqlat benchmark: a context-switch storm (two threads of one process,
// pinned to one CPU, passing a byte back and forth over two pipes: every
// round trip is two wake-ups and two switches), untraced, traced by
// @ebpf/runqlat and by libbpf-tools' /usr/sbin/runqlat, each filtered to the
// storm (-p) and system-wide, in rounds that alternate them (the machine is
// shared: alternating spreads the noise evenly).
//   cost/switch  the storm's own CPU time per context switch, traced minus
//                untraced: sched_wakeup and sched_switch run in the storm's
//                threads, and their BPF programs' time is theirs
//   slowdown     the storm's wall time traced / untraced
//   waits        what the tool's histogram counted in all (with -p: the
//                storm's waits, beside its switches)
//   RSS          the tool's peak resident memory
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, median, printTable, procStats, sleep } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/runqlat/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/runqlat';
const TRIPS = Number(process.env.BENCH_RUNQLAT_TRIPS ?? 200000);
const ROUNDS = Number(process.env.BENCH_RUNQLAT_ROUNDS ?? 3);

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

const storm = compileC('rqstorm', stormSrc);

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

/** The counts summed over every printed histogram row (either tool). */
function histCount(text) {
  let n = 0;
  for (const m of text.matchAll(/^ *\d+ -> \d+ +: (\d+) /gm)) n += Number(m[1]);
  return n;
}

/** One storm under a tool (or none): the storm's numbers, the tool's peak RSS and what it counted. */
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
  return { ...r, peakRss, waits: child ? histCount(out) : NaN };
}

const spread = (xs, d = 0) => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;

export async function run() {
  console.log(`\n## runqlat: context-switch storm, ${TRIPS} round trips of two threads on one CPU, ${ROUNDS} rounds (medians, min–max)`);
  const hasRef = existsSync(REF);
  const configs = [
    ['untraced', null, false],
    ['@ebpf/runqlat -p', 'ours', true],
    ...(hasRef ? [['libbpf-tools runqlat -p', 'ref', true]] : []),
    ['@ebpf/runqlat (all)', 'ours', false],
    ...(hasRef ? [['libbpf-tools runqlat (all)', 'ref', false]] : []),
  ];
  const results = new Map(configs.map(([name]) => [name, []]));
  for (let i = 0; i < ROUNDS; i++) for (const [name, tool, filtered] of configs) results.get(name).push(await round(tool, filtered));
  const base = results.get('untraced');
  const perSwitch = (r) => r.cpuNs / r.switches;
  const b = median(base.map(perSwitch));
  const bWall = median(base.map((r) => r.wallNs));
  const cost = (name) => median(results.get(name).map((r) => perSwitch(r) - b));
  const rows = [['configuration', 'switches', 'CPU ns/switch', 'cost ns/switch', 'slowdown', 'waits counted', 'peak RSS MB']];
  for (const [name, tool] of configs) {
    const rs = results.get(name);
    rows.push([
      name,
      fmt(median(rs.map((r) => r.switches)), 0),
      spread(rs.map(perSwitch)),
      tool ? spread(rs.map((r) => perSwitch(r) - b)) : '–',
      tool ? `${fmt(median(rs.map((r) => r.wallNs)) / bWall, 2)}×` : '1.00×',
      tool ? spread(rs.map((r) => r.waits)) : '–',
      tool ? mb(Math.max(...rs.map((r) => r.peakRss))) : '–',
    ]);
  }
  printTable(rows);
  if (hasRef) {
    console.log(
      `ratios of cost per switch, ours / libbpf-tools: -p ${fmt(cost('@ebpf/runqlat -p') / cost('libbpf-tools runqlat -p'), 2)}, ` +
        `all ${fmt(cost('@ebpf/runqlat (all)') / cost('libbpf-tools runqlat (all)'), 2)}`,
    );
  }
}
