// timemachine benchmark. The recorder runs in this process (the typed API),
// so its CPU is this process's CPU while the target runs; the target is a C
// program that times its own loop (clock_gettime around it), untraced,
// recorded, and beside strace (the tool people reach for, with no ring mode).
//   events/s   records the recorder received per second of the target's loop
//   lost       records dropped in the kernel (ring full) and evicted from the window
//   slowdown   the target's loop time recorded / untraced (medians)
//   CPU        the recorder's CPU time over the loop's wall time (% of one core)
// Then the recorder's CPU at ~1000 events/s, and the cost per call of each
// kind of probe: a function entry (-f), malloc+free (the allocator uprobes).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, median, printTable } from './lib.mjs';

const TM = new URL('../packages/timemachine/dist/index.js', import.meta.url);
const N = Number(process.env.BENCH_TM_CALLS ?? 300_000);
const ROUNDS = Number(process.env.BENCH_TM_ROUNDS ?? 3);

// mode 0: N getppid(); 1: N calls of work(); 2: N malloc+free; 3: 500/s getppid+nanosleep for argv[3] s
const SOURCE = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
__attribute__((noinline)) long work(long i) { __asm__ volatile("" ::: "memory"); return i * 3; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  int mode = atoi(argv[1]); long n = atol(argv[2]); long s = 0;
  double t0 = now();
  if (mode == 0) for (long i = 0; i < n; i++) s += getppid();
  if (mode == 1) for (long i = 0; i < n; i++) s += work(i);
  if (mode == 2) for (long i = 0; i < n; i++) { void *p = malloc(64); __asm__ volatile("" :: "r"(p) : "memory"); free(p); }
  if (mode == 3) for (long i = 0; i < 500 * n; i++) { s += getppid(); usleep(2000); }
  printf("%.9f %ld\\n", now() - t0, s & 1);
  return 0;
}`;

/** Runs the target (under `wrap`), returns its loop seconds. */
function loopSeconds(bin, args, wrap = []) {
  const argv = [...wrap, bin, ...args];
  const out = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return Number(out.trim().split('\n').at(-1).split(' ')[0]);
}

/** Records the target (a command) with `opts`; returns loop seconds, recorder CPU seconds, records, lost. */
async function recorded(record, bin, args, opts = {}) {
  let out = '';
  const rec = await record({ command: [bin, ...args], commandStdio: 'pipe', output: '', allocs: false, ...opts });
  const c0 = process.cpuUsage(); // from here on: the recording, not the start (load, attach, ELF reading)
  rec.child.stdout.on('data', (d) => (out += d));
  await rec.exited;
  const cpu = process.cpuUsage(c0);
  const lost = rec.lost();
  const records = rec.held + lost.evicted;
  await rec.close();
  await new Promise((r) => (rec.child.exitCode !== null ? r() : rec.child.once('close', r)));
  return { loop: Number(out.trim().split(' ')[0]), cpu: (cpu.user + cpu.system) / 1e6, records, lost };
}

export async function run() {
  const { record } = await import(TM.href);
  const bin = compileC('tmbench', SOURCE);
  console.log(`\n## timemachine: ${N} getppid() calls per run, ${ROUNDS} rounds (recorder in-process, CPU from process.cpuUsage())`);
  const base = [], ours = [], strace = [];
  for (let i = 0; i < ROUNDS; i++) {
    base.push(loopSeconds(bin, ['0', String(N)]));
    ours.push(await recorded(record, bin, ['0', String(N)]));
    strace.push(loopSeconds(bin, ['0', String(N)], ['strace', '-f', '-qq', '-o', '/dev/null']));
  }
  const b = median(base);
  const loop = median(ours.map((r) => r.loop));
  const rate = median(ours.map((r) => r.records / r.loop));
  printTable([
    ['', 'loop s', 'slowdown', 'events/s recorded', 'lost (ring, evicted)', 'recorder CPU % of a core'],
    ['untraced', fmt(b, 3), '1.00×', '', '', ''],
    ['timemachine record', fmt(loop, 3), `${fmt(loop / b, 2)}×`, fmt(rate, 0), ours.map((r) => `${r.lost.ring},${r.lost.evicted}`).join(' '), fmt(median(ours.map((r) => (100 * r.cpu) / r.loop)), 0)],
    ['strace -f -o /dev/null', fmt(median(strace), 3), `${fmt(median(strace) / b, 2)}×`, '', '', ''],
  ]);
  console.log(`target: ≥ 100000 events/s with no loss: ${rate >= 100_000 && ours.every((r) => r.lost.ring === 0) ? 'met' : 'NOT met'}`);

  // ~1000 events/s for 5 s: 500 getppid() + 500 clock_nanosleep() a second.
  const idle = await recorded(record, bin, ['3', '5'], { allocs: true });
  const pct = (100 * idle.cpu) / idle.loop;
  console.log(`recorder at ${fmt(idle.records / idle.loop, 0)} events/s: ${fmt(pct, 1)}% of a core (target: < 5%: ${pct < 5 ? 'met' : 'NOT met'})`);

  // Cost per call of a probe: (recorded - untraced) / calls.
  const M = Math.round(N / 3);
  const perCall = async (mode, opts) => {
    const u = median(Array.from({ length: ROUNDS }, () => loopSeconds(bin, [mode, String(M)])));
    const t = [];
    for (let i = 0; i < ROUNDS; i++) t.push((await recorded(record, bin, [mode, String(M)], opts)).loop);
    return ((median(t) - u) / M) * 1e6;
  };
  const fn = await perCall('1', { functions: '^work$' });
  const mf = await perCall('2', { allocs: true });
  printTable([
    ['probe', 'µs per call (recorded − untraced)'],
    ['function entry (-f, uprobe_multi)', fmt(fn, 2)],
    ['malloc + free (uprobe, uretprobe, uprobe; stacks)', fmt(mf, 2)],
  ]);
  console.log('noise: 2 cores shared with other work; compare ratios within one run');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await run();
