// profile benchmark: -F 999 on every CPU for DURATION seconds while a
// spinner keeps both cores busy, @ebpf/profile beside libbpf-tools'
// /usr/sbin/profile when the machine has it (Debian's libbpf-tools 0.26
// does not ship profile: then ours is measured alone), in alternating rounds.
//   samples        what the tool reported (folded output, summed)
//   BPF ns/sample  the perf-event program's own run time per run, from its
//                  fdinfo (kernel.bpf_stats_enabled is switched on for the
//                  bench and restored after)
//   user CPU µs/sample  the tool process's CPU time (start-up, the report,
//                  symbolization) per sample
//   peak RSS       the tool's resident memory high-water mark
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, median, printTable, procStats, sleep } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/profile/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/profile';
const SECS = Number(process.env.BENCH_PROFILE_SECS ?? 5);
const ROUNDS = Number(process.env.BENCH_PROFILE_ROUNDS ?? 3);
const STATS = '/proc/sys/kernel/bpf_stats_enabled';

const spinner = compileC(
  'pspin',
  `#pragma GCC optimize ("no-omit-frame-pointer")
#include <pthread.h>
#include <unistd.h>
volatile unsigned long sink;
__attribute__((noinline)) void leaf(void) { for (int i = 0; i < 1000; i++) sink += i; }
__attribute__((noinline)) void mid(void) { for (int i = 0; i < 1000; i++) leaf(); }
static void *spin(void *a) { for (;;) mid(); return a; }
int main(int c, char **v) { pthread_t t; pthread_create(&t, 0, spin, 0); pthread_create(&t, 0, spin, 0); sleep(atoi(v[1])); return 0; }`.replace('#include <unistd.h>', '#include <unistd.h>\n#include <stdlib.h>'),
);

/** run_time_ns and run_cnt of the process's perf_event programs (type 7 in fdinfo). */
function progStats(pid) {
  let ns = 0;
  let cnt = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let t;
    try {
      t = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    if (!/^prog_type:\s+7$/m.test(t)) continue;
    ns += Number(/^run_time_ns:\s+(\d+)/m.exec(t)?.[1] ?? 0);
    cnt += Number(/^run_cnt:\s+(\d+)/m.exec(t)?.[1] ?? 0);
  }
  return { ns, cnt };
}

async function round(which) {
  const cmd = which === 'ours' ? process.execPath : REF;
  const args = [...(which === 'ours' ? [CLI] : []), '-F', '999', '-f'];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const deadline = Date.now() + 30000;
  while (progStats(child.pid).cnt === 0) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${which} did not start: ${err}`);
    await sleep(20);
  }
  const s0 = progStats(child.pid);
  const spin = spawn(spinner, [String(SECS)], { stdio: 'ignore' });
  await new Promise((r) => spin.once('close', r));
  const s1 = progStats(child.pid);
  const closed = new Promise((r) => child.once('close', r));
  // CPU and RSS are read until it exits (the report's own work included; a zombie has no VmHWM).
  child.kill('SIGINT');
  let last = procStats(child.pid);
  while (child.exitCode === null) {
    try {
      const s = procStats(child.pid);
      if (Number.isFinite(s.peakRss)) last = s;
      else last = { ...s, peakRss: last.peakRss };
    } catch {
      break;
    }
    await sleep(2);
  }
  await closed;
  const samples = out
    .split('\n')
    .map((l) => Number(/ (\d+)$/.exec(l)?.[1] ?? 0))
    .reduce((a, b) => a + b, 0);
  return { samples, bpfNs: (s1.ns - s0.ns) / Math.max(1, s1.cnt - s0.cnt), cpuUs: (last.cpu * 1e6) / Math.max(1, samples), rss: last.peakRss, lost: err.split('\n').filter((l) => l.startsWith('WARNING')).join('; ') };
}

export async function run() {
  console.log(`\n## profile: -F 999 on every CPU, ${SECS} s of two spinning threads, ${ROUNDS} rounds (medians)`);
  const hasRef = existsSync(REF);
  if (!hasRef) console.log(`(${REF} is not on this machine: Debian's libbpf-tools 0.26 does not ship it; @ebpf/profile alone)`);
  const before = readFileSync(STATS, 'utf8').trim();
  writeFileSync(STATS, '1');
  const tools = ['ours', ...(hasRef ? ['ref'] : [])];
  const res = new Map(tools.map((t) => [t, []]));
  try {
    for (let i = 0; i < ROUNDS; i++) for (const t of tools) res.get(t).push(await round(t));
  } finally {
    writeFileSync(STATS, before);
  }
  const rows = [['tool', 'samples', 'BPF ns/sample', 'user CPU µs/sample', 'peak RSS MB']];
  const m = (t, k) => median(res.get(t).map((r) => r[k]));
  for (const t of tools) rows.push([t === 'ours' ? '@ebpf/profile' : 'libbpf-tools profile', fmt(m(t, 'samples'), 0), fmt(m(t, 'bpfNs'), 0), fmt(m(t, 'cpuUs'), 1), mb(m(t, 'rss'))]);
  if (hasRef) rows.push(['ratio ours/ref', fmt(m('ours', 'samples') / m('ref', 'samples'), 2), fmt(m('ours', 'bpfNs') / m('ref', 'bpfNs'), 2), fmt(m('ours', 'cpuUs') / m('ref', 'cpuUs'), 2), fmt(m('ours', 'rss') / m('ref', 'rss'), 2)]);
  printTable(rows);
  for (const t of tools) for (const r of res.get(t)) if (r.lost) console.log(`${t}: ${r.lost}`);
}
