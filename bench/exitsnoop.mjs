// exitsnoop benchmark: a fork/exit storm on both cores, untraced, traced by
// @ebpf/exitsnoop and by libbpf-tools' /usr/sbin/exitsnoop, in the same run.
//   captured  children the storm forked (each _exit(3)s at once) vs rows the
//             tool printed for them
//   storm     the storm's fork+exit+wait rate while traced, relative to untraced
//   CPU       the tool's own CPU seconds per million events
//   RSS       the tool's peak resident memory
// The machine is shared: the untraced storm runs before and after the traced
// ones, and the spread between those two is the noise floor of the ratios.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, printTable, timeRun, tracedStorm } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/exitsnoop/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/exitsnoop';
const PER_CORE = Number(process.env.BENCH_FORKS ?? 10000);

// Each child exits at once with code 3, so its row reads "exitstorm ... code 3"
// and nothing else on the machine is counted.
const storm = compileC('exitstorm', `
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) _exit(3);
    if (pid < 0) return 1;
    waitpid(pid, NULL, 0);
  }
  return 0;
}`);

/** Both cores: two storm processes; returns children per second. */
async function runStorm() {
  const t0 = process.hrtime.bigint();
  await Promise.all([timeRun(storm, [String(PER_CORE)]), timeRun(storm, [String(PER_CORE)])]);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return (2 * PER_CORE) / secs;
}

const isStormChild = (line) => line.startsWith('exitstorm ') && line.endsWith(' code 3');

async function traced(name, cmd, args) {
  const t = await tracedStorm(cmd, args, /PCOMM/, isStormChild, runStorm);
  return { name, rate: t.result, seen: t.seen, cpu: t.cpu, peakRss: t.peakRss, stderr: t.stderr };
}

export async function run() {
  console.log(`\n## exitsnoop: fork/exit storm, 2 × ${PER_CORE} children (fork, _exit(3), waitpid) on 2 cores`);
  const hasRef = existsSync(REF);
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const base1 = await runStorm();
  const ours = await traced('@ebpf/exitsnoop', process.execPath, [...nodeFlags, CLI]);
  const ref = hasRef ? await traced('libbpf-tools exitsnoop', 'stdbuf', ['-oL', REF]) : undefined;
  const base2 = await runStorm();
  const base = (base1 + base2) / 2;

  const total = 2 * PER_CORE;
  const row = (r) => [
    r.name,
    `${r.seen}/${total}`,
    fmt(total - r.seen, 0),
    `${fmt(r.rate / base, 2)}×`,
    fmt((r.cpu / Math.max(r.seen, 1)) * 1e6, 1),
    mb(r.peakRss),
  ];
  const rows = [['tool', 'captured', 'lost', 'storm speed', 'CPU s/1M ev', 'peak RSS MB']];
  rows.push(row(ours));
  if (ref) rows.push(row(ref));
  console.log(
    `untraced storm: ${fmt(base1, 0)} then ${fmt(base2, 0)} forks/s (noise: ${fmt((Math.abs(base1 - base2) / base) * 100, 0)}% apart; shared machine)`,
  );
  printTable(rows);
  if (ref) {
    console.log('ratios (ours / libbpf-tools):');
    console.log(
      `  captured ${fmt(ours.seen / Math.max(ref.seen, 1), 2)}, storm speed ${fmt(ours.rate / ref.rate, 2)}, ` +
        `CPU per event ${fmt(ours.cpu / Math.max(ours.seen, 1) / (ref.cpu / Math.max(ref.seen, 1)), 2)}, peak RSS ${fmt(ours.peakRss / ref.peakRss, 2)}`,
    );
  }
  if (ours.stderr) console.log(`ours stderr: ${ours.stderr.split('\n').slice(0, 3).join(' | ')}`);
  if (ref?.stderr) console.log(`libbpf-tools stderr: ${ref.stderr.split('\n').slice(0, 3).join(' | ')}`);
}
