// tcplife benchmark: a loopback connect/accept/close storm (a C program:
// packages/tcplife/test/c/tcpstorm.c), untraced, traced by @ebpf/tcplife and
// traced by libbpf-tools' /usr/sbin/tcplife, in rounds that alternate the
// three (the machine is shared: alternating spreads the noise evenly).
//   captured  sessions the storm performed (2 per connection: client and
//             server side) vs rows the tool printed for them
//   speed     the storm's connection rate while traced / untraced (medians)
//   CPU       the tool's own CPU time per captured session
//   RSS       the tool's peak resident memory
//   startup   spawn → attached (ours: header line; libbpf-tools: its BPF link
//             appears: its stdout is a pipe, so block-buffered)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmt, mb, median, printTable } from './lib.mjs';
import { portIn, startOurs, startRef, tcpRounds } from './support/tcpstorm.mjs';

const CLI = fileURLToPath(new URL('../packages/tcplife/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/tcplife';
const CONNS = Number(process.env.BENCH_TCP_CONNS ?? 20000);
const ROUNDS = Number(process.env.BENCH_TCP_ROUNDS ?? 3);

/** Rows of both tools: PID COMM LADDR LPORT RADDR RPORT ... (split on blanks). */
const rowOf = portIn(3, 5);

export async function run() {
  console.log(`\n## tcplife: loopback connect/accept/close storm, ${CONNS} connections (${2 * CONNS} sessions) per run, ${ROUNDS} rounds`);
  const hasRef = existsSync(REF);
  const starts = [() => startOurs(CLI, /^PID +COMM/), ...(hasRef ? [() => startRef(REF)] : [])];
  const { base, traced: [ours, ref = []] } = await tcpRounds(ROUNDS, CONNS, rowOf, starts);
  const sessions = 2 * CONNS;
  const baseRate = median(base);
  const summary = (name, rs) => {
    const rate = median(rs.map((r) => r.rate));
    const seen = Math.min(...rs.map((r) => r.seen));
    const cpuPerSession = median(rs.map((r) => r.cpu / Math.max(r.seen, 1)));
    return {
      name,
      rate,
      seen,
      cpuPerSession,
      peakRss: Math.max(...rs.map((r) => r.peakRss)),
      startMs: median(rs.map((r) => r.startMs)),
      row: [
        name,
        `${seen}/${sessions}`,
        fmt(Math.max(...rs.map((r) => sessions - r.seen)), 0),
        `${fmt(rate / baseRate, 2)}×`,
        rs.map((r) => fmt(r.rate / baseRate, 2)).join(' '),
        fmt(cpuPerSession * 1e6, 2),
        mb(Math.max(...rs.map((r) => r.peakRss))),
        fmt(median(rs.map((r) => r.startMs)), 0),
      ],
    };
  };
  const o = summary('@ebpf/tcplife', ours);
  const rows = [['tool', 'captured (worst run)', 'lost (worst)', 'storm speed', 'per round', 'CPU µs/session', 'peak RSS MB', 'start ms']];
  rows.push(o.row);
  const r = hasRef ? summary('libbpf-tools tcplife', ref) : undefined;
  if (r) rows.push(r.row);
  console.log(`untraced storm: ${fmt(baseRate, 0)} connections/s (median; rounds: ${base.map((b) => fmt(b, 0)).join(', ')})`);
  printTable(rows);
  if (r) {
    console.log('ratios (ours / libbpf-tools):');
    console.log(
      `  storm speed ${fmt(o.rate / r.rate, 2)}, CPU per session ${fmt(o.cpuPerSession / r.cpuPerSession, 2)}, ` +
        `peak RSS ${fmt(o.peakRss / r.peakRss, 2)}, start ${fmt(o.startMs / r.startMs, 2)}`,
    );
  }
  console.log(`target: storm speed ≥ 0.80× untraced with every session captured: ${o.rate / baseRate >= 0.8 && o.seen === sessions ? 'met' : 'NOT met'}`);
  const spread = Math.max(...base) / Math.min(...base);
  console.log(`noise: untraced rounds differ by up to ${fmt((spread - 1) * 100, 0)}% (2 cores shared with other work)`);
  const errs = [...new Set(ours.map((x) => x.stderr).filter(Boolean))];
  if (errs.length) console.log(`ours stderr: ${errs.join(' | ')}`);
  const refErrs = ref.map((x) => x.stderr.split('\n').filter(Boolean).length).reduce((a, b) => a + b, 0);
  if (refErrs) console.log(`libbpf-tools stderr: ${refErrs} "lost N events" lines, e.g. ${ref.find((x) => x.stderr)?.stderr.split('\n')[0]}`);
}

// `node bench/tcplife.mjs` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await run();
