// tcpconnlat benchmark: a loopback connect/accept/close storm (tcplife's C
// storm, packages/tcplife/test/c/tcpstorm.c), untraced and traced by
// @ebpf/tcpconnlat, in alternating rounds (the machine is shared). Each
// connection is one connect, one row. There is no C reference to run beside
// it here: libbpf-tools' tcpconnlat needs fentry or kprobes, which this
// kernel lacks (the bench tries it and says so).
//   captured  the storm's connects printed, of those made
//   speed     the storm's connection rate while traced / untraced (medians)
//   CPU       the tool's own CPU time (user + system) per connect printed
//   RSS       the tool's peak resident memory
//   startup   spawn → header line (attached)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmt, mb, median, printTable } from './lib.mjs';
import { portIn, startOurs, tcpRounds } from './support/tcpstorm.mjs';

const CLI = fileURLToPath(new URL('../packages/tcpconnlat/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/tcpconnlat';
const CONNS = Number(process.env.BENCH_TCP_CONNS ?? 20000);
const ROUNDS = Number(process.env.BENCH_TCP_ROUNDS ?? 3);

// PID COMM IP SADDR DADDR DPORT LAT(ms)
const rowOf = portIn(5);

export async function run() {
  console.log(`\n## tcpconnlat: loopback connect storm, ${CONNS} connects per run, ${ROUNDS} rounds`);
  if (existsSync(REF)) {
    const r = spawnSync(REF, [], { timeout: 5000, encoding: 'utf8' });
    console.log(`libbpf-tools tcpconnlat: does not run here (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]}`);
  }
  const { base, traced: [ours] } = await tcpRounds(ROUNDS, CONNS, rowOf, [() => startOurs(CLI, /^PID +COMM/)]);
  const baseRate = median(base);
  const cpu = ours.map((r) => r.cpu / Math.max(r.seen, 1));
  printTable([
    ['tool', 'captured (worst run)', 'storm speed', 'per round', 'CPU µs/connect', 'per round', 'peak RSS MB', 'start ms'],
    [
      '@ebpf/tcpconnlat',
      `${Math.min(...ours.map((r) => r.seen))}/${CONNS}`,
      `${fmt(median(ours.map((r) => r.rate)) / baseRate, 2)}×`,
      ours.map((r) => fmt(r.rate / baseRate, 2)).join(' '),
      fmt(median(cpu) * 1e6, 2),
      cpu.map((c) => fmt(c * 1e6, 2)).join(' '),
      mb(Math.max(...ours.map((r) => r.peakRss))),
      fmt(median(ours.map((r) => r.startMs)), 0),
    ],
  ]);
  console.log(`untraced storm: ${fmt(baseRate, 0)} connections/s (median; rounds: ${base.map((b) => fmt(b, 0)).join(', ')})`);
  const errs = [...new Set(ours.map((x) => x.stderr).filter(Boolean))];
  if (errs.length) console.log(`ours stderr: ${errs.join(' | ')}`);
}

// `node bench/tcpconnlat.mjs` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await run();
