// softirqs benchmark: a loopback TCP storm (one process, two threads pinned
// to one CPU, echoing a byte over 127.0.0.1: each send raises NET_RX, run
// in the sender's own context when it re-enables bottom halves), untraced,
// traced by @ebpf/softirqs and by libbpf-tools' /usr/sbin/softirqs, in
// rounds that alternate them.
//   cost/softirq  the storm's CPU time (softirqs included: they run in its
//                 context) per softirq run, traced minus untraced, with the
//                 runs counted by /proc/softirqs on the storm's CPU
//   seen          the tool's net_rx count beside /proc/softirqs' (all CPUs)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileC, fmt, mb, median, printTable, procStats, sleep } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/softirqs/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/softirqs';
const TRIPS = Number(process.env.BENCH_SOFTIRQS_TRIPS ?? 100000);
const ROUNDS = Number(process.env.BENCH_SOFTIRQS_ROUNDS ?? 3);

const storm = compileC('irqstorm', `
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static int srv, a, b;
static long trips;
static void *echo(void *arg) {
  char c;
  for (long i = 0; i < trips; i++) if (read(b, &c, 1) != 1 || write(b, &c, 1) != 1) exit(1);
  return arg;
}
static double ns(struct timespec t) { return t.tv_sec * 1e9 + t.tv_nsec; }
int main(int argc, char **argv) {
  cpu_set_t one; pthread_t t; char c = 'x'; int on = 1;
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof(sa);
  struct timespec c0, c1;
  trips = atol(argv[1]);
  CPU_ZERO(&one); CPU_SET(0, &one);
  if (sched_setaffinity(0, sizeof(one), &one)) return 1;
  srv = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(srv, (void *)&sa, sizeof(sa)) || listen(srv, 1) || getsockname(srv, (void *)&sa, &len)) return 1;
  a = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(a, (void *)&sa, sizeof(sa))) return 1;
  b = accept(srv, NULL, NULL);
  setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  setvbuf(stdout, NULL, _IONBF, 0);
  puts("ready");
  if (read(0, &c, 1) != 1) return 1;
  pthread_create(&t, NULL, echo, NULL);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  for (long i = 0; i < trips; i++) if (write(a, &c, 1) != 1 || read(a, &c, 1) != 1) return 1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  pthread_join(t, NULL);
  printf("%.0f\\n", ns(c1) - ns(c0));
  while (read(0, &c, 1) > 0) {}
  return 0;
}`);

/** /proc/softirqs NET_RX: [all CPUs, CPU 0]. */
function netRx() {
  const l = readFileSync('/proc/softirqs', 'utf8').split('\n').find((x) => x.trim().startsWith('NET_RX:'));
  const v = l.trim().split(/\s+/).slice(1).map(Number);
  return [v.reduce((p, q) => p + q, 0), v[0]];
}

const hasBpfLink = (pid) =>
  readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:bpf_link';
    } catch {
      return false;
    }
  });

async function round(tool) {
  const child = spawn(storm, [String(TRIPS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  while (!out.startsWith('ready\n')) await sleep(5);
  let t;
  let tout = '';
  if (tool) {
    t = tool === 'ours' ? spawn(process.execPath, [CLI, '-C']) : spawn(REF, []);
    t.stdout.setEncoding('utf8').on('data', (d) => (tout += d));
    while (!hasBpfLink(t.pid)) await sleep(20);
    await sleep(200);
  }
  const [r0, c0] = netRx();
  child.stdin.write('x');
  while (!/^ready\n\d+\n/.test(out)) await sleep(5);
  const [r1, c1] = netRx();
  let peakRss = NaN;
  if (t) {
    peakRss = procStats(t.pid).peakRss;
    const closed = new Promise((r) => t.once('close', r));
    t.kill('SIGINT');
    await closed;
  }
  child.stdin.end();
  const m = /^net_rx +(\d+)$/m.exec(tout);
  return { cpuNs: Number(out.split('\n')[1]), runs: c1 - c0, all: r1 - r0, seen: m ? Number(m[1]) : NaN, peakRss };
}

export async function run() {
  console.log(`\n## softirqs: loopback TCP storm, ${TRIPS} round trips on CPU 0, ${ROUNDS} rounds (medians)`);
  const configs = [['untraced', null], ['@ebpf/softirqs -C', 'ours'], ...(existsSync(REF) ? [['libbpf-tools softirqs', 'ref']] : [])];
  const res = new Map(configs.map(([n]) => [n, []]));
  for (let i = 0; i < ROUNDS; i++) for (const [n, tool] of configs) res.get(n).push(await round(tool));
  const per = (r) => r.cpuNs / r.runs;
  const base = median(res.get('untraced').map(per));
  const rows = [['configuration', 'NET_RX runs (CPU 0)', 'CPU ns/run', 'cost ns/run', 'net_rx seen / all CPUs', 'peak RSS MB']];
  for (const [n, tool] of configs) {
    const rs = res.get(n);
    rows.push([n, fmt(median(rs.map((r) => r.runs)), 0), fmt(median(rs.map(per)), 0), tool ? fmt(median(rs.map(per)) - base, 0) : '–', tool === 'ours' ? `${fmt(median(rs.map((r) => r.seen)), 0)} / ${fmt(median(rs.map((r) => r.all)), 0)}` : '–', tool ? mb(Math.max(...rs.map((r) => r.peakRss))) : '–']);
  }
  printTable(rows);
  if (res.has('libbpf-tools softirqs')) {
    const cost = (n) => median(res.get(n).map(per)) - base;
    console.log(`ratio of cost per softirq run, ours / libbpf-tools: ${fmt(cost('@ebpf/softirqs -C') / cost('libbpf-tools softirqs'), 2)}`);
  }
}
