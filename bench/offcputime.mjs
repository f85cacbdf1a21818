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
import { spread } from './lib.mjs';
import { ctxBench, ctxStorm } from './support/ctxstorm.mjs';

const TRIPS = Number(process.env.BENCH_OFFCPU_TRIPS ?? 200000);
const ROUNDS = Number(process.env.BENCH_OFFCPU_ROUNDS ?? 3);

// bench/support/ctxstorm.c, with frame pointers, so user stacks are walked
// as in a real program.
const storm = ctxStorm('ctxstorm', { framePointers: true });

/** The storm's off-CPU microseconds in a BCC-style text report (either tool): the totals after its threads' lines. */
function offcpuUs(text) {
  const lines = text.split('\n');
  let us = 0;
  for (let i = 0; i < lines.length - 1; i++) if (/^ {4}- +ctxstorm \(\d+\)$/.test(lines[i])) us += Number(lines[i + 1].trim());
  return us;
}

export async function run() {
  console.log(`\n## offcputime: context-switch storm, ${TRIPS} round trips of two threads on one CPU, ${ROUNDS} rounds (medians, min–max)`);
  await ctxBench({
    tool: 'offcputime',
    storm,
    trips: TRIPS,
    rounds: ROUNDS,
    all: '(all threads)',
    seen: (out) => offcpuUs(out) / 1e6,
    cols: [
      ['seen off-CPU s', (rs, traced) => (traced ? spread(rs.map((r) => r.seen), 2) : '–')],
      ['actual s', (rs) => spread(rs.map((r) => (2 * r.wallNs - r.cpuNs) / 1e9), 2)],
    ],
  });
}
