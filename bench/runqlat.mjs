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
import { spread } from './lib.mjs';
import { ctxBench, ctxStorm } from './support/ctxstorm.mjs';

const TRIPS = Number(process.env.BENCH_RUNQLAT_TRIPS ?? 200000);
const ROUNDS = Number(process.env.BENCH_RUNQLAT_ROUNDS ?? 3);

// bench/support/ctxstorm.c
const storm = ctxStorm('rqstorm');

/** The counts summed over every printed histogram row (either tool). */
function histCount(text) {
  let n = 0;
  for (const m of text.matchAll(/^ *\d+ -> \d+ +: (\d+) /gm)) n += Number(m[1]);
  return n;
}

export async function run() {
  console.log(`\n## runqlat: context-switch storm, ${TRIPS} round trips of two threads on one CPU, ${ROUNDS} rounds (medians, min–max)`);
  await ctxBench({
    tool: 'runqlat',
    storm,
    trips: TRIPS,
    rounds: ROUNDS,
    all: '(all)',
    seen: histCount,
    cols: [['waits counted', (rs, traced) => (traced ? spread(rs.map((r) => r.seen)) : '–')]],
  });
}
