// sigsnoop benchmark: a signal storm (one process kill()s a child that handles
// SIGUSR1, N times in a tight loop), untraced, traced by @ebpf/sigsnoop and by
// libbpf-tools' /usr/sbin/sigsnoop, in the same run. Both tools filter on the
// storm's PID in the kernel (-p), so other signals on the machine do not count.
//   captured  rows for the storm's SIGUSR1s vs the signals it sent (every one must be there)
//   speed     the storm's signal rate while traced, relative to untraced
//   CPU       the tool's own CPU seconds per million events
//   RSS       the tool's peak resident memory
// Output goes to a file, as `sigsnoop > log` would, so no reader competes for the CPU.
// The machine is shared: each configuration runs BENCH_ROUNDS times (default 3),
// the median is printed, and the spread of the untraced rate shows the noise.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, median, printTable, procStats, sleep, stopChild } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/sigsnoop/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/sigsnoop';
const N = Number(process.env.BENCH_SIGNALS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const stormBin = compileC('sigstorm', `
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static void handler(int s) { (void)s; }
int main(int argc, char **argv) {
  long n = atol(argv[1]), i;
  int ready[2];
  char c;
  struct timespec t0, t1;
  if (pipe(ready)) return 2;
  pid_t child = fork();
  if (child == 0) {
    struct sigaction sa = { 0 };
    sa.sa_handler = handler;
    sigaction(SIGUSR1, &sa, NULL);
    if (write(ready[1], "r", 1) != 1) _exit(2);
    for (;;) pause();
  }
  if (read(ready[0], &c, 1) != 1) return 2;
  printf("%d %d\\n", getpid(), child);
  fflush(stdout);
  if (read(0, &c, 1) != 1) return 2;          /* go */
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (i = 0; i < n; i++)
    if (kill(child, SIGUSR1)) return 3;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  printf("%.9f\\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  return 0;
}`);

/** Starts the storm, paused: resolves with its PID and a go() that runs it and resolves with signals/s. */
function startStorm() {
  return new Promise((resolve, reject) => {
    const child = spawn(stormBin, [String(N)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let started = false;
    let done;
    const finished = new Promise((r) => (done = r));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      if (!started && lines.length > 1) {
        started = true;
        const pid = Number(lines[0].split(' ')[0]);
        resolve({
          pid,
          go: () => {
            child.stdin.end('g');
            return finished;
          },
        });
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const secs = Number(out.trim().split('\n')[1]);
      if (code !== 0 || !(secs > 0)) reject(new Error(`storm exited ${code}: ${out}`));
      done(N / secs);
    });
  });
}

/** BPF links a process holds open (its attached probes). */
function bpfLinks(pid) {
  let n = 0;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:bpf_link') n++;
      } catch {}
    }
  } catch {}
  return n;
}

/**
 * Starts a tool with stdout into a file; resolves once it is tracing. Not by
 * waiting for its header: libbpf-tools' stdio holds it in a buffer until exit
 * when stdout is a file. Instead, once the process holds all `links` BPF links.
 */
async function startTool(cmd, args, file, links) {
  const fd = openSync(file, 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 15_000;
  while (bpfLinks(child.pid) < links) {
    if (child.exitCode !== null) throw new Error(`${cmd} exited (${child.exitCode}): ${stderr.trim()}`);
    if (Date.now() > deadline) throw new Error(`${cmd}: not attached after 15 s`);
    await sleep(20);
  }
  return { child, stderr: () => stderr };
}

/** Rows for the storm's SIGUSR1s: PID column = the storm, SIG column = 10 (either tool prints numbers). */
function countRows(file, pid) {
  const text = readFileSync(file, 'latin1');
  const re = new RegExp(`^\\S+ +${pid} +\\S+ +10 `, 'gm');
  let n = 0;
  while (re.exec(text)) n++;
  return n;
}

async function traced(name, cmd, args, links, dir) {
  const storm = await startStorm();
  const file = join(dir, `${name.replace(/\W/g, '_')}.log`);
  const tool = await startTool(cmd, [...args, '-p', String(storm.pid)], file, links);
  const before = procStats(tool.child.pid);
  const rate = await storm.go();
  await sleep(300); // let the reader drain what is still buffered
  const after = procStats(tool.child.pid);
  await stopChild(tool.child);
  const seen = countRows(file, storm.pid);
  return { name, rate, seen, cpu: after.cpu - before.cpu, peakRss: after.peakRss, stderr: tool.stderr().trim() };
}

async function untraced() {
  const storm = await startStorm();
  return storm.go();
}

function summarize(runs) {
  const pick = (f) => median(runs.map(f));
  return {
    name: runs[0].name,
    rate: pick((r) => r.rate),
    seen: Math.min(...runs.map((r) => r.seen)),
    cpu: pick((r) => r.cpu),
    cpuPerM: pick((r) => (r.cpu / Math.max(r.seen, 1)) * 1e6),
    peakRss: Math.max(...runs.map((r) => r.peakRss)),
    stderr: runs.map((r) => r.stderr).filter(Boolean).join(' | '),
  };
}

export async function run() {
  console.log(`\n## sigsnoop: signal storm, ${N} kill(child, SIGUSR1) in a loop, ${ROUNDS} rounds (medians)`);
  const dir = mkdtempSync(join(tmpdir(), 'sigsnoop-bench-'));
  const hasRef = existsSync(REF);
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const base = [];
  const ours = [];
  const ref = [];
  try {
    // Interleaved, so drift in the machine's load hits every configuration alike.
    for (let i = 0; i < ROUNDS; i++) {
      base.push(await untraced());
      ours.push(await traced('@ebpf/sigsnoop', process.execPath, [...nodeFlags, CLI], 13, dir));
      if (hasRef) ref.push(await traced('libbpf-tools sigsnoop', REF, [], 1, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const baseRate = median(base);
  const o = summarize(ours);
  const r = hasRef ? summarize(ref) : undefined;
  const row = (s) => [
    s.name,
    `${s.seen}/${N}`,
    fmt(N - s.seen, 0),
    `${fmt(s.rate / baseRate, 2)}×`,
    fmt(s.rate / 1e3, 0),
    fmt(s.cpuPerM, 2),
    mb(s.peakRss),
  ];
  console.log(`untraced storm: ${fmt(baseRate / 1e3, 0)} k signals/s (rounds: ${base.map((b) => fmt(b / 1e3, 0)).join(', ')}; the spread is the machine's noise)`);
  const rows = [['tool', 'captured (worst round)', 'lost', 'storm speed', 'k sig/s', 'CPU s/1M ev', 'peak RSS MB']];
  rows.push(row(o));
  if (r) rows.push(row(r));
  printTable(rows);
  for (const [s, runs] of [[o, ours], [r, ref]]) {
    if (s) console.log(`  ${s.name} per round: ${runs.map((x) => `${fmt(x.rate / 1e3, 0)} k/s, ${x.seen} captured`).join('; ')}`);
  }
  if (r) {
    console.log('ratios (ours / libbpf-tools):');
    console.log(`  storm speed ${fmt(o.rate / r.rate, 2)}, CPU per event ${fmt(o.cpuPerM / r.cpuPerM, 2)}, peak RSS ${fmt(o.peakRss / r.peakRss, 2)}, ` +
      `events captured ${fmt(o.seen / Math.max(r.seen, 1), 2)}`);
  }
  console.log(`target: storm ≥ 0.40× untraced with every signal captured: ours ${fmt(o.rate / baseRate, 2)}×, ${o.seen === N ? 'all captured' : `${N - o.seen} lost`}`);
  if (o.stderr) console.log(`ours stderr: ${o.stderr.slice(0, 300)}`);
  if (r?.stderr) console.log(`libbpf-tools stderr: ${r.stderr.split('\n').slice(0, 3).join(' | ')}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
