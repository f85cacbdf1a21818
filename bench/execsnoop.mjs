// execsnoop benchmark: an exec storm on both cores, traced by @ebpf/execsnoop
// and by libbpf-tools' /usr/sbin/execsnoop in the same run.
//   loss      execs the storm performed vs rows the tool printed for them
//   slowdown  the storm's exec rate while traced, relative to untraced
//   CPU       the tool's own CPU seconds per million events
//   RSS       the tool's peak resident memory
//   startup   spawn → header line, vs a bare `node -e ''` start
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, median, printTable, startTool, timeRun, tracedStorm } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/execsnoop/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/execsnoop';
const PER_CORE = Number(process.env.BENCH_EXECS ?? 4000);
const TOKEN = `bench-${process.pid}`;

const storm = compileC('execstorm', `
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  char *args[] = { "/bin/true", argv[2], NULL };
  for (int i = 0; i < n; i++) {
    pid_t pid = vfork();
    if (pid == 0) { execve("/bin/true", args, environ); _exit(127); }
    waitpid(pid, NULL, 0);
  }
  return 0;
}`);

/** Both cores: two storm processes; returns execs per second. */
async function runStorm() {
  const t0 = process.hrtime.bigint();
  await Promise.all([timeRun(storm, [String(PER_CORE), TOKEN]), timeRun(storm, [String(PER_CORE), TOKEN])]);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return (2 * PER_CORE) / secs;
}

async function traced(name, cmd, args) {
  const t = await tracedStorm(cmd, args, /PCOMM/, (l) => l.includes(`/bin/true ${TOKEN}`), runStorm);
  return { name, rate: t.result, seen: t.seen, cpu: t.cpu, peakRss: t.peakRss, lostLines: t.stderr };
}

async function startup(cmd, args, n = 5) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = await startTool(cmd, args, /PCOMM/);
    times.push(t.startMs);
    await t.stop();
  }
  return median(times);
}

export async function run() {
  console.log(`\n## execsnoop: exec storm, 2 × ${PER_CORE} execs of /bin/true on 2 cores`);
  const hasRef = existsSync(REF);
  const base = await runStorm();
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const ours = await traced('@ebpf/execsnoop', process.execPath, [...nodeFlags, CLI]);
  const ref = hasRef ? await traced('libbpf-tools execsnoop', 'stdbuf', ['-oL', REF]) : undefined;

  // One start at a time (parallel starts on 2 cores time each other), bare
  // node and ours interleaved so a noisy spell hits both alike.
  const bare = [];
  const oursStarts = [];
  for (let i = 0; i < 7; i++) {
    bare.push(await timeRun(process.execPath, ['-e', '']));
    oursStarts.push(await startup(process.execPath, [CLI], 1));
  }
  const bareNode = median(bare);
  const oursStart = median(oursStarts);
  const refStart = hasRef ? await startup('stdbuf', ['-oL', REF], 7) : NaN;

  const total = 2 * PER_CORE;
  const row = (r, start) => [
    r.name,
    `${r.seen}/${total}`,
    fmt(total - r.seen, 0),
    `${fmt(r.rate / base, 2)}×`,
    fmt((r.cpu / Math.max(r.seen, 1)) * 1e6, 1),
    mb(r.peakRss),
    fmt(start, 1),
  ];
  const rows = [['tool', 'captured', 'lost', 'storm speed', 'CPU s/1M ev', 'peak RSS MB', 'start→header ms']];
  rows.push(row(ours, oursStart));
  if (ref) rows.push(row(ref, refStart));
  console.log(`untraced storm: ${fmt(base, 0)} execs/s; bare \`node -e ''\`: ${fmt(bareNode, 1)} ms`);
  printTable(rows);
  if (ref) {
    console.log('ratios (ours / libbpf-tools):');
    console.log(`  storm speed ${fmt(ours.rate / ref.rate, 2)}, CPU per event ${fmt((ours.cpu / ours.seen) / (ref.cpu / ref.seen), 2)}, ` +
      `peak RSS ${fmt(ours.peakRss / ref.peakRss, 2)}, start→header ${fmt(oursStart / refStart, 2)}`);
  }
  console.log(`startup above bare node: ${fmt(oursStart - bareNode, 1)} ms (target ≤ 30 ms); peak RSS ${mb(ours.peakRss)} MB (target ≤ 50 MB)`);
  if (ours.lostLines) console.log(`ours stderr: ${ours.lostLines}`);
  if (ref?.lostLines) console.log(`libbpf-tools stderr: ${ref.lostLines.split('\n').slice(0, 3).join(' | ')}`);
}
