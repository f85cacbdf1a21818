// oomkill benchmark: what the tool costs to keep running, since OOM kills
// are rare and per-event cost does not matter. Each round starts the CLI,
// then makes one OOM kill in a 32 MiB cgroup v1 memory cgroup the bench
// creates (a process that allocates until killed; never a system-wide OOM)
// and waits for its row.
//   startup   spawn → header line (BPF object loaded and attached)
//   kill→row  the victim's death seen by the bench → its row on stdout (into
//             a pipe, @ebpf/core holds rows up to 100 ms to batch writes; on a
//             terminal each batch is written at once)
//   CPU       the tool's own CPU seconds over the round (start-up included)
//   RSS       the tool's peak resident memory
// No C reference runs here: libbpf-tools' /usr/sbin/oomkill attaches
// kprobe/fentry on oom_kill_process, which this kernel refuses; BCC's Python
// tool needs kprobes and kernel headers. So the table has no ratios.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, median, printTable, procStats, sleep, startTool } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/oomkill/dist/cli.js', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LIMIT = 32 * 1024 * 1024;

// Allocates and touches 1 MiB at a time once told to ("go" on stdin); stops at 256 MiB whatever happens.
const HOG_C = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static char *volatile keep[256]; /* kept reachable: the compiler may not drop the stores */
int main(void) {
  char line[8];
  if (!fgets(line, sizeof line, stdin)) return 2;
  for (int i = 0; i < 256; i++) { char *p = malloc(1 << 20); if (!p) return 4; memset(p, 1, 1 << 20); keep[i] = p; }
  return 3;
}`;

function memoryMount() {
  for (const l of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, dir, type, opts] = l.split(' ');
    if (type === 'cgroup' && opts.split(',').includes('memory')) return dir;
  }
  throw new Error('no cgroup v1 memory controller mounted');
}

async function oneKill(hogBin, tool) {
  const cg = join(memoryMount(), `ebpf-oomkill-bench-${process.pid}`);
  mkdirSync(cg);
  try {
    writeFileSync(join(cg, 'memory.limit_in_bytes'), `${LIMIT}\n`);
    writeFileSync(join(cg, 'memory.memsw.limit_in_bytes'), `${LIMIT}\n`);
    const hog = spawn(hogBin, [], { stdio: ['pipe', 'ignore', 'inherit'] });
    const died = new Promise((r) => hog.on('exit', () => r(process.hrtime.bigint())));
    writeFileSync(join(cg, 'cgroup.procs'), `${hog.pid}\n`);
    if (!readFileSync(`/proc/${hog.pid}/cgroup`, 'utf8').includes(`:/ebpf-oomkill-bench-${process.pid}\n`)) throw new Error('hog not in its cgroup');
    let rowAt;
    tool.onLine((l) => l.includes(`OOM kill of PID ${hog.pid} `) && (rowAt ??= process.hrtime.bigint()));
    hog.stdin.end('go\n');
    const diedAt = await died;
    while (rowAt === undefined) await sleep(1);
    return Number(rowAt - diedAt) / 1e6;
  } finally {
    while (readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim()) await sleep(10);
    rmdirSync(cg);
  }
}

export async function run() {
  const hogBin = compileC('oomhog', HOG_C);
  const starts = [], rows = [], cpus = [], rss = [];
  for (let i = 0; i < ROUNDS; i++) {
    const tool = await startTool(process.execPath, [CLI], /^Tracing OOM kills/);
    starts.push(tool.startMs);
    rows.push(await oneKill(hogBin, tool));
    const s = procStats(tool.child.pid);
    cpus.push(s.cpu);
    rss.push(s.peakRss);
    await tool.stop();
  }
  console.log(`\noomkill (${ROUNDS} rounds, one OOM kill each in a 32 MiB memory cgroup; medians)`);
  printTable([
    ['tool', 'startup ms', 'kill→row ms', 'CPU s', 'peak RSS MiB'],
    ['@ebpf/oomkill', fmt(median(starts), 0), fmt(median(rows), 1), fmt(median(cpus), 2), mb(median(rss))],
    ['libbpf-tools oomkill', 'does not load here (kprobe/fentry)', '', '', ''],
  ]);
}
