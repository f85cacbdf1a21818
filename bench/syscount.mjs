// syscount benchmark: a syscall storm (one thread making CALLS getppid()
// system calls, the cheapest there is, so the tracing is most of the cost),
// untraced, traced by @ebpf/syscount and by libbpf-tools' /usr/sbin/syscount,
// counting (the default) and timing (-L), system-wide, in rounds that
// alternate them (the machine is shared: alternating spreads the noise).
//   cost/call  the storm's own CPU time per syscall, traced minus untraced:
//              sys_enter/sys_exit run in the calling thread, so the BPF
//              programs' time is its (CPU time, not wall time: other jobs on
//              the shared cores do not count)
//   slowdown   the storm's wall time traced / untraced
//   seen       the getppid calls the tool reported: the storm made CALLS
//              (a few more come from other processes on the machine)
//   RSS        the tool's peak resident memory
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { alternate, compileC, fmt, mb, median, printTable, spread, stormRound } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/syscount/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/syscount';
const CALLS = Number(process.env.BENCH_SYSCOUNT_CALLS ?? 2000000);
const ROUNDS = Number(process.env.BENCH_SYSCOUNT_ROUNDS ?? 3);

// Waits for a byte on stdin, makes CALLS getppid() calls, prints
// "cpu_ns wall_ns", waits for stdin to close.
const storm = compileC(
  'sysstorm',
  `#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
static double ns(struct timespec t) { return t.tv_sec * 1e9 + t.tv_nsec; }
int main(int argc, char **argv) {
  long calls = atol(argv[1]);
  char c;
  struct timespec c0, c1, w0, w1;
  setvbuf(stdout, NULL, _IONBF, 0);
  puts("ready");
  if (read(0, &c, 1) != 1) return 1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
  clock_gettime(CLOCK_MONOTONIC, &w0);
  for (long i = 0; i < calls; i++) syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &w1);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  printf("%.0f %.0f\\n", ns(c1) - ns(c0), ns(w1) - ns(w0));
  while (read(0, &c, 1) > 0) {}
  return 0;
}`,
);

async function round(tool, latency) {
  const args = () => ['-T', '100', ...(latency ? ['-L'] : [])];
  // -L attaches two programs: wait for both.
  const { numbers, peakRss, out } = await stormRound([storm, [String(CALLS)]], tool, { cli: CLI, ref: REF, args, links: latency ? 2 : 1 });
  const seen = Number(/^getppid\s+(\d+)/m.exec(out)?.[1] ?? NaN);
  return { cpuNs: numbers[0], wallNs: numbers[1], peakRss, seen };
}

export async function run() {
  console.log(`\n## syscount: syscall storm, ${CALLS} getppid() calls, system-wide, ${ROUNDS} rounds (medians, min–max)`);
  const hasRef = existsSync(REF);
  const configs = [
    ['untraced', null, false],
    ['@ebpf/syscount', 'ours', false],
    ...(hasRef ? [['libbpf-tools syscount', 'ref', false]] : []),
    ['@ebpf/syscount -L', 'ours', true],
    ...(hasRef ? [['libbpf-tools syscount -L', 'ref', true]] : []),
  ];
  const results = await alternate(configs, ROUNDS, round);
  const perCall = (r) => r.cpuNs / CALLS;
  const b = median(results.get('untraced').map(perCall));
  const bWall = median(results.get('untraced').map((r) => r.wallNs));
  const cost = (name) => median(results.get(name).map((r) => perCall(r) - b));
  const rows = [['configuration', 'CPU ns/call', 'cost ns/call', 'slowdown', 'getppid seen', 'peak RSS MB']];
  for (const [name, tool] of configs) {
    const rs = results.get(name);
    rows.push([
      name,
      spread(rs.map(perCall)),
      tool ? spread(rs.map((r) => perCall(r) - b)) : '–',
      tool ? `${fmt(median(rs.map((r) => r.wallNs)) / bWall, 2)}×` : '1.00×',
      tool ? `${spread(rs.map((r) => r.seen))} of ${CALLS}` : '–',
      tool ? mb(median(rs.map((r) => r.peakRss))) : '–',
    ]);
  }
  printTable(rows);
  if (hasRef) {
    console.log(`cost ratio @ebpf/libbpf-tools: counting ${fmt(cost('@ebpf/syscount') / cost('libbpf-tools syscount'), 2)}, -L ${fmt(cost('@ebpf/syscount -L') / cost('libbpf-tools syscount -L'), 2)}`);
  }
}
