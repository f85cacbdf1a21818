// The context-switch storm (ctxstorm.c beside this file) for the scheduler
// tools' benchmarks, compiled once per run, and the bench they share: the
// storm untraced, traced by @ebpf/<tool> and by libbpf-tools' /usr/sbin/<tool>,
// each filtered to the storm (-p) and system-wide, in rounds that alternate
// them, reported per context switch.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { alternate, compileC, fmt, mb, median, printTable, spread, stormRound } from '../lib.mjs';

const SRC = readFileSync(new URL('ctxstorm.c', import.meta.url), 'utf8');

/** Compiles the storm as `name`; with framePointers its user stacks can be walked, as in a real program. */
export function ctxStorm(name, { framePointers = false } = {}) {
  // compileC builds with -O2; frame pointers are asked for in the source.
  return compileC(name, framePointers ? `#pragma GCC optimize ("no-omit-frame-pointer")\n${SRC}` : SRC);
}

/**
 * Runs the bench and prints its table: switches, CPU and cost per switch,
 * slowdown, the tool's own columns (`cols`: [title, (results, traced) =>
 * cell]), peak RSS; then the cost ratios beside libbpf-tools. `seen(out)`
 * reads what a tool reported from its stdout (stored as `seen`); `all` names
 * the system-wide configurations.
 */
export async function ctxBench({ tool, storm, trips, rounds, all, seen, cols }) {
  const cli = fileURLToPath(new URL(`../../packages/${tool}/dist/cli.js`, import.meta.url));
  const ref = `/usr/sbin/${tool}`;
  const hasRef = existsSync(ref);
  const ours = (w) => `@ebpf/${tool} ${w}`;
  const theirs = (w) => `libbpf-tools ${tool} ${w}`;
  const configs = [
    ['untraced', null, false],
    [ours('-p'), 'ours', true],
    ...(hasRef ? [[theirs('-p'), 'ref', true]] : []),
    [ours(all), 'ours', false],
    ...(hasRef ? [[theirs(all), 'ref', false]] : []),
  ];
  const results = await alternate(configs, rounds, async (t, filtered) => {
    const args = (pid) => (filtered ? ['-p', String(pid)] : []);
    const { numbers, peakRss, out } = await stormRound([storm, [String(trips), '0']], t, { cli, ref, args });
    const [, switches, cpuNs, wallNs] = numbers;
    return { switches, cpuNs, wallNs, peakRss, seen: t ? seen(out) : NaN };
  });
  const base = results.get('untraced');
  const perSwitch = (r) => r.cpuNs / r.switches;
  const b = median(base.map(perSwitch));
  const bWall = median(base.map((r) => r.wallNs));
  const cost = (name) => median(results.get(name).map((r) => perSwitch(r) - b));
  const rows = [['configuration', 'switches', 'CPU ns/switch', 'cost ns/switch', 'slowdown', ...cols.map(([title]) => title), 'peak RSS MB']];
  for (const [name, t] of configs) {
    const rs = results.get(name);
    rows.push([
      name,
      fmt(median(rs.map((r) => r.switches)), 0),
      spread(rs.map(perSwitch)),
      t ? spread(rs.map((r) => perSwitch(r) - b)) : '–',
      t ? `${fmt(median(rs.map((r) => r.wallNs)) / bWall, 2)}×` : '1.00×',
      ...cols.map(([, cell]) => cell(rs, Boolean(t))),
      t ? mb(Math.max(...rs.map((r) => r.peakRss))) : '–',
    ]);
  }
  printTable(rows);
  if (hasRef) {
    console.log(`ratios of cost per switch, ours / libbpf-tools: -p ${fmt(cost(ours('-p')) / cost(theirs('-p')), 2)}, ` + `${all.replace(/^\((.*)\)$/, '$1')} ${fmt(cost(ours(all)) / cost(theirs(all)), 2)}`);
  }
}
