// javagc benchmark: one JVM calling System.gc() in a loop, traced by
// @ebpf/javagc (with and without --pools) and by libbpf-tools'
// /usr/sbin/javagc (-t 0, so it prints every GC) in the same run.
//   captured  GCs the JVM performed vs rows the tool printed
//   GC median the JVM's own median System.gc() time (System.nanoTime around
//             each call); Δ: against an untraced round just before, the
//             median over 3 such pairs: what tracing costs each GC (the
//             probes, and the tool's process competing for the CPUs), within
//             the noise of a ~1 ms pause on a shared machine
//   CPU       the tool's own CPU milliseconds per 1000 GCs
//   RSS       the tool's peak resident memory
//   startup   spawn → header line, vs a bare `node -e ''` start
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fmt, mb, median, printTable, startTool, timeRun, tracedStorm } from './lib.mjs';

const CLI = fileURLToPath(new URL('../packages/javagc/dist/cli.js', import.meta.url));
const REF = '/usr/sbin/javagc';
const GCS = Number(process.env.BENCH_GCS ?? 500);
const REPEAT = 3;

const SOURCE = `
import java.io.*;
import java.util.Arrays;
public class GcBench {
  public static void main(String[] a) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    System.out.println("ready");
    String line;
    while ((line = in.readLine()) != null) {
      int n = Integer.parseInt(line.trim());
      long[] t = new long[n];
      for (int i = 0; i < n; i++) { long s = System.nanoTime(); System.gc(); t[i] = System.nanoTime() - s; }
      Arrays.sort(t);
      System.out.println(t[n / 2] / 1000.0 + " " + t[n * 9 / 10] / 1000.0);
    }
  }
}`;

function compile() {
  const dir = mkdtempSync(join(tmpdir(), 'ebpf-bench-javagc-'));
  writeFileSync(join(dir, 'GcBench.java'), SOURCE);
  execFileSync('javac', ['-d', dir, join(dir, 'GcBench.java')]);
  return dir;
}

class Jvm {
  constructor(classes) {
    this.child = spawn('java', ['-XX:-UsePerfData', '-Xms32m', '-Xmx32m', '-XX:+UseG1GC', '-cp', classes, 'GcBench'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.lines = [];
    this.waiters = [];
    createInterface({ input: this.child.stdout }).on('line', (l) => {
      this.lines.push(l);
      for (const w of this.waiters.splice(0)) w();
    });
  }
  get pid() {
    return this.child.pid;
  }
  line() {
    return new Promise((resolve) => {
      const take = () => (this.lines.length ? resolve(this.lines.shift()) : this.waiters.push(take));
      take();
    });
  }
  /** n System.gc() calls; resolves with { medianUs, p90Us }. */
  async round(n) {
    this.child.stdin.write(`${n}\n`);
    const [m, p] = (await this.line()).split(' ').map(Number);
    return { medianUs: m, p90Us: p };
  }
  stop() {
    this.child.stdin.end();
    return new Promise((r) => this.child.once('close', r));
  }
}

/** One traced round: the tool started, GCS GCs, the tool stopped once its output settles. */
async function tracedRound(jvm, cmd, args) {
  const row = new RegExp(`^\\d\\d:\\d\\d:\\d\\d \\d+ +${jvm.pid} +\\d+`);
  const t = await tracedStorm(cmd, args, /GC TIME/, (l) => row.test(l), () => jvm.round(GCS));
  return { ...t.result, rows: t.seen, cpu: t.cpu, peakRss: t.peakRss, stderr: t.stderr };
}

/**
 * REPEAT pairs of (untraced round, traced round), so slow drift of the
 * machine (shared, busy) cancels out: the cost per GC is the median of the
 * pairs' differences of median System.gc() time.
 */
async function traced(name, jvm, cmd, args) {
  const deltas = [];
  const runs = [];
  for (let i = 0; i < REPEAT; i++) {
    const base = await jvm.round(GCS);
    const r = await tracedRound(jvm, cmd, args);
    deltas.push(r.medianUs - base.medianUs);
    runs.push(r);
  }
  const sum = (f) => runs.reduce((n, r) => n + f(r), 0);
  return {
    name,
    medianUs: median(runs.map((r) => r.medianUs)),
    deltaUs: median(deltas),
    rows: sum((r) => r.rows),
    gcs: REPEAT * GCS,
    cpu: sum((r) => r.cpu),
    peakRss: Math.max(...runs.map((r) => r.peakRss)),
    stderr: runs.map((r) => r.stderr).filter(Boolean).join(' | '),
  };
}

async function startup(cmd, args, n = 5) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = await startTool(cmd, args, /GC TIME/);
    times.push(t.startMs);
    await t.stop();
  }
  return median(times);
}

export async function run() {
  console.log(`\n## javagc: System.gc() in one JVM (G1, 32 MB heap), ${REPEAT} × ${GCS} per tool, each after an untraced round`);
  const classes = compile();
  const jvm = new Jvm(classes);
  await jvm.line(); // ready
  await jvm.round(50); // warm-up
  const hasRef = existsSync(REF);
  const results = [];
  try {
    const base = await jvm.round(GCS);
    results.push(await traced('@ebpf/javagc', jvm, process.execPath, [CLI, '-p', String(jvm.pid)]));
    results.push(await traced('@ebpf/javagc --pools', jvm, process.execPath, [CLI, '-p', String(jvm.pid), '--pools']));
    if (hasRef) results.push(await traced('libbpf-tools javagc -t 0', jvm, 'stdbuf', ['-oL', REF, '-p', String(jvm.pid), '-t', '0']));
    const after = await jvm.round(GCS); // untraced again: how much the machine drifts

    const bareNode = median(await Promise.all([0, 1, 2, 3, 4].map(() => timeRun(process.execPath, ['-e', '']))));
    const oursStart = await startup(process.execPath, [CLI, '-p', String(jvm.pid)]);
    const refStart = hasRef ? await startup('stdbuf', ['-oL', REF, '-p', String(jvm.pid), '-t', '0']) : NaN;

    console.log(`untraced System.gc(): median ${fmt(base.medianUs, 0)} µs (p90 ${fmt(base.p90Us, 0)}); again after: ${fmt(after.medianUs, 0)} µs`);
    const rows = [['tool', 'captured', 'GC median µs', 'Δ vs untraced µs', 'CPU ms/1000 GCs', 'peak RSS MB']];
    for (const r of results) {
      rows.push([
        r.name,
        `${r.rows}/${r.gcs}`,
        fmt(r.medianUs, 0),
        fmt(r.deltaUs, 0),
        fmt((r.cpu * 1e6) / Math.max(r.rows, 1), 1),
        mb(r.peakRss),
      ]);
    }
    printTable(rows);
    console.log(`start→header: ours ${fmt(oursStart, 1)} ms, libbpf-tools ${fmt(refStart, 1)} ms, bare \`node -e ''\` ${fmt(bareNode, 1)} ms`);
    const ours = results[0];
    const ref = results.find((r) => r.name.startsWith('libbpf'));
    if (ref) {
      console.log('ratios (ours / libbpf-tools):');
      console.log(`  CPU per GC ${fmt((ours.cpu / ours.rows) / (ref.cpu / ref.rows), 2)}, peak RSS ${fmt(ours.peakRss / ref.peakRss, 2)}, start→header ${fmt(oursStart / refStart, 2)}`);
    }
    for (const r of results) if (r.stderr) console.log(`${r.name} stderr: ${r.stderr.split('\n').slice(0, 3).join(' | ')}`);
    console.log('Δ: median over the pairs of (traced − untraced) median System.gc() time, noisy on a shared machine; per GC the probes are 2 uprobe hits (+ 2 per pool with --pools).');
  } finally {
    await jvm.stop();
    rmSync(classes, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
