// tcpstates benchmark: a loopback connect/accept/close storm (tcplife's C
// storm, packages/tcplife/test/c/tcpstorm.c), untraced, traced by
// @ebpf/tcpstates and traced by libbpf-tools' /usr/sbin/tcpstates, in rounds
// that alternate the three (the machine is shared: alternating spreads the
// noise evenly). Each connection is ten state changes (five per socket), plus
// the listener's two.
//   captured  changes of the storm's sockets the tool printed, of those made
//   speed     the storm's connection rate while traced / untraced (medians)
//   CPU       the tool's own CPU time (user + system) per change printed
//   RSS       the tool's peak resident memory
//   startup   spawn → attached (ours: header line; libbpf-tools: its BPF link
//             appears, as its stdout is a pipe, so block-buffered)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmt, mb, median, printTable } from './lib.mjs';
import { portIn, startOurs, startRef, tcpRounds } from './support/tcpstorm.mjs';

const CLI = fileURLToPath(new URL('../packages/tcpstates/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/tcpstates';
const CONNS = Number(process.env.BENCH_TCP_CONNS ?? 20000);
const ROUNDS = Number(process.env.BENCH_TCP_ROUNDS ?? 3);
const CHANGES = 10 * CONNS + 2;

/** Rows of both tools: SKADDR PID COMM LADDR LPORT RADDR RPORT OLD -> NEW MS (split on blanks). */
const rowOf = portIn(4, 6);

export async function run() {
  console.log(`\n## tcpstates: loopback connect/accept/close storm, ${CONNS} connections (${CHANGES} state changes) per run, ${ROUNDS} rounds`);
  const hasRef = existsSync(REF);
  const starts = [() => startOurs(CLI, /^SKADDR +C-PID/), ...(hasRef ? [() => startRef(REF)] : [])];
  const { base, traced: [ours, ref = []] } = await tcpRounds(ROUNDS, CONNS, rowOf, starts);
  const baseRate = median(base);
  const summary = (name, rs) => {
    const rate = median(rs.map((r) => r.rate));
    const cpuPerChange = median(rs.map((r) => r.cpu / Math.max(r.seen, 1)));
    return {
      rate,
      seen: Math.min(...rs.map((r) => r.seen)),
      cpuPerChange,
      peakRss: Math.max(...rs.map((r) => r.peakRss)),
      startMs: median(rs.map((r) => r.startMs)),
      row: [
        name,
        `${Math.min(...rs.map((r) => r.seen))}/${CHANGES}`,
        fmt(Math.max(...rs.map((r) => CHANGES - r.seen)), 0),
        `${fmt(rate / baseRate, 2)}×`,
        rs.map((r) => fmt(r.rate / baseRate, 2)).join(' '),
        fmt(cpuPerChange * 1e6, 2),
        rs.map((r) => fmt((r.cpu / Math.max(r.seen, 1)) * 1e6, 2)).join(' '),
        mb(Math.max(...rs.map((r) => r.peakRss))),
        fmt(median(rs.map((r) => r.startMs)), 0),
      ],
    };
  };
  const o = summary('@ebpf/tcpstates', ours);
  const rows = [['tool', 'captured (worst run)', 'lost (worst)', 'storm speed', 'per round', 'CPU µs/change', 'per round', 'peak RSS MB', 'start ms']];
  rows.push(o.row);
  const r = hasRef ? summary('libbpf-tools tcpstates', ref) : undefined;
  if (r) rows.push(r.row);
  console.log(`untraced storm: ${fmt(baseRate, 0)} connections/s (median; rounds: ${base.map((b) => fmt(b, 0)).join(', ')})`);
  printTable(rows);
  if (r) {
    console.log('ratios (ours / libbpf-tools):');
    console.log(
      `  CPU per change ${fmt(o.cpuPerChange / r.cpuPerChange, 2)}, storm speed ${fmt(o.rate / r.rate, 2)}, ` +
        `peak RSS ${fmt(o.peakRss / r.peakRss, 2)}, start ${fmt(o.startMs / r.startMs, 2)}, captured ${fmt(o.seen / Math.max(r.seen, 1), 3)}`,
    );
    console.log(`target: cheaper than libbpf-tools per change, every change captured: ${o.cpuPerChange < r.cpuPerChange && o.seen === CHANGES ? 'met' : 'NOT met'}`);
  }
  const spread = Math.max(...base) / Math.min(...base);
  console.log(`noise: untraced rounds differ by up to ${fmt((spread - 1) * 100, 0)}% (2 cores shared with other work)`);
  const errs = [...new Set(ours.map((x) => x.stderr).filter(Boolean))];
  if (errs.length) console.log(`ours stderr: ${errs.join(' | ')}`);
  const refErrs = ref.map((x) => x.stderr.split('\n').filter(Boolean).length).reduce((a, b) => a + b, 0);
  if (refErrs) console.log(`libbpf-tools stderr: ${refErrs} lines, e.g. ${ref.find((x) => x.stderr)?.stderr.split('\n')[0]}`);
}

// `node bench/tcpstates.mjs` runs it alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await run();
