// The javagc CLI as users run it: a child process, output into a pipe,
// stopped by a signal (or by the JVM's exit). One JVM runs the GC rounds;
// another runs from a JDK copy whose libjvm.so has no USDT notes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pad } from '@ebpf/core/format';
import { GCS, Jvm, gcLoopClasses, javaHome, jdkWithoutProbes } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { errorLine, tool } from '../../../test/support/cli.js';
import { tempDir, type TempDir } from '../../../test/support/tmp.js';
import { sleep } from '../../../test/support/wait.js';

const BANNER = 'Tracing javagc time... Hit Ctrl-C to end.';
const HEADER = 'TIME     CPU     PID     GC TIME';
const ROW = /^(\d\d:\d\d:\d\d) (\d+) +(\d+) +(\d+)$/;
const HIST_HEADER = '     usecs               : count     distribution';
const HIST_ROW = /^ *(\d+) -> (\d+) *: (\d+) *\|[ *]{40}\|$/;
// Ready once the banner and header are out; with --json, once it holds a BPF link per USDT probe site.
const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: `${BANNER}\n${HEADER}` });

let tmp: TempDir;
let jvm: Jvm;
let noProbes: Jvm;

beforeAll(async () => {
  tmp = tempDir('ebpf-javagc-test-');
  const classes = gcLoopClasses();
  const nosdt = jdkWithoutProbes(javaHome(), tmp.dir);
  [jvm, noProbes] = await Promise.all([Jvm.start(classes), Jvm.start(classes, { home: nosdt })]);
}, 60_000);

afterAll(async () => {
  await Promise.all([jvm?.stop(), noProbes?.stop()]);
  tmp?.cleanup();
});

const rows = (lines: string[]) => lines.filter((l) => ROW.test(l));

/** Sums the counts of every histogram row in `text`. */
function histogramCount(text: string): number {
  let n = 0;
  for (const l of text.split('\n')) {
    const m = l.match(HIST_ROW);
    if (m) n += Number(m[3]);
  }
  return n;
}

describe('javagc CLI', () => {
  it("prints libbpf's banner, header and one row per GC (no trailing spaces); -t filters; SIGINT and SIGTERM end it cleanly", async () => {
    const all = await CLI.start(['-p', String(jvm.pid)]);
    const none = await CLI.start(['-p', String(jvm.pid), '-t', '10000000']);
    await jvm.round();
    await all.waitOutput(() => rows(all.lines()).length >= GCS);
    await sleep(300); // anything -t would (wrongly) let through would be out by now
    const a = await all.stop('SIGINT');
    const n = await none.stop('SIGTERM');
    for (const e of [a, n]) {
      expect(e.code).toBe(0);
      expect(e.signal).toBeNull();
      expect(e.stderr).toBe('');
    }
    expect(n.stdout).toBe(`${BANNER}\n${HEADER}\n`);
    const lines = a.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual([BANNER, HEADER]);
    expect(lines.at(-1)).toBe('');
    const body = lines.slice(2, -1);
    expect(body.length).toBeGreaterThanOrEqual(GCS);
    for (const l of body) {
      const m = l.match(ROW);
      expect(m, l).not.toBeNull();
      const [, time, cpu, pid, us] = m!;
      // "%-8s %-7d %-7d %lld": exact columns
      expect(l).toBe(`${pad(time!, 8)} ${pad(cpu!, 7)} ${pad(pid!, 7)} ${us}`);
      expect(Number(pid)).toBe(jvm.pid);
      expect(Number(us)).toBeLessThan(10_000_000);
    }
  });

  it('--json: one object per GC; --pools adds pool lines (text) and objects (JSON)', async () => {
    const json = await CLI.start(['-p', String(jvm.pid), '--json'], { links: 2 });
    const jsonPools = await CLI.start(['-p', String(jvm.pid), '--json', '--pools'], { links: 4 });
    const text = await CLI.start(['-p', String(jvm.pid), '--pools']);
    await jvm.round();
    await Promise.all([json, jsonPools].map((c) => c.waitOutput(() => c.lines().length >= GCS)));
    await text.waitOutput(() => rows(text.lines()).length >= GCS);
    const [j, jp, t] = await Promise.all([json.stop(), jsonPools.stop(), text.stop()]);
    for (const e of [j, jp, t]) {
      expect(e.code).toBe(0);
      expect(e.stderr).toBe('');
    }

    const objs = j.stdout.trimEnd().split('\n').map((l) => expectJsonLine(l) as any);
    expect(objs.length).toBeGreaterThanOrEqual(GCS);
    for (const o of objs) {
      expect(Object.keys(o).sort()).toEqual(['cpu', 'durationNs', 'durationUs', 'elapsed', 'full', 'kind', 'pid', 'pools', 'poolsDropped', 'tid', 'time', 'timestamp']);
      expect(o.kind).toBe('pause');
      expect(o.pid).toBe(jvm.pid);
      expect(o.tid).toBe(jvm.thread('VM Thread').tid);
      expect(o.pools).toEqual([]);
      expect(o.durationUs).toBe(Number(BigInt(o.durationNs) / 1000n));
      expect(BigInt(o.durationNs)).toBeGreaterThan(0n);
      expect(Number.isNaN(Date.parse(o.time))).toBe(false);
    }
    expect(objs.filter((o) => o.full).length).toBeGreaterThanOrEqual(GCS);

    const withPools = jp.stdout.trimEnd().split('\n').map((l) => expectJsonLine(l) as any);
    const full = withPools.filter((o) => o.full);
    expect(full.length).toBeGreaterThanOrEqual(GCS);
    for (const o of full) {
      expect(o.pools.map((p: { pool: string }) => p.pool)).toEqual(expect.arrayContaining(['G1 Eden Space', 'G1 Old Gen']));
      for (const p of o.pools) {
        expect(p.manager).toBe('G1 Old Generation');
        expect(Object.keys(p.before)).toEqual(['init', 'used', 'committed', 'max']);
        expect(p.after.used).toBeGreaterThanOrEqual(0);
      }
    }

    // Text: each row, then its pools, indented, in BCC's intended format.
    const tl = t.stdout.trimEnd().split('\n').slice(2);
    expect(ROW.test(tl[0]!)).toBe(true);
    let pools = 0;
    for (const l of tl) {
      if (ROW.test(l)) continue;
      expect(l).toMatch(/^ {4}G1 (Old|Young) Generation .+ used=\d+->\d+ max=-?\d+->-?\d+$/);
      pools++;
    }
    expect(pools).toBeGreaterThanOrEqual(GCS * 4);
    expect(tl.some((l) => l.startsWith('    G1 Old Generation G1 Eden Space used='))).toBe(true);
  });

  it("BCC's syntax: the pid as an argument, -m (ms, two decimals), -M MSEC (at least), -F FILTER (a pool's description contains it)", async () => {
    const ms = await CLI.start(['-m', String(jvm.pid)], `${BANNER}\n${HEADER} (ms)`);
    const none = await CLI.start(['-M', '100000', String(jvm.pid)]); // 100 s
    const zero = await CLI.start(['-M', '0', String(jvm.pid)]);
    const old = await CLI.start(['-F', 'G1 Old Gen ', String(jvm.pid)]); // the pool "G1 Old Gen", not the manager "G1 Old Generation"
    const nomatch = await CLI.start(['-F', 'no such pool', String(jvm.pid)]);
    await jvm.round();
    await Promise.all([zero, old].map((c) => c.waitOutput(() => rows(c.lines()).length >= GCS)));
    await ms.waitOutput(() => ms.lines().filter((l) => /\.\d\d$/.test(l)).length >= GCS);
    await sleep(300); // anything -M or -F would (wrongly) let through would be out by now
    const [m, n, z, o, x] = await Promise.all([ms, none, zero, old, nomatch].map((c) => c.stop()));
    for (const e of [m, n, z, o, x]) expect([e.code, e.signal, e.stderr]).toEqual([0, null, '']);
    expect(n.stdout).toBe(`${BANNER}\n${HEADER}\n`);
    expect(x.stdout).toBe(`${BANNER}\n${HEADER}\n`);

    // -m: "GC TIME (ms)", and each duration in ms with two decimals
    const ml = m.stdout.trimEnd().split('\n');
    expect(ml.slice(0, 2)).toEqual([BANNER, `${HEADER} (ms)`]);
    expect(ml.length - 2).toBeGreaterThanOrEqual(GCS);
    for (const l of ml.slice(2)) {
      const r = l.match(/^(\d\d:\d\d:\d\d) (\d+) +(\d+) +(\d+\.\d\d)$/);
      expect(r, l).not.toBeNull();
      expect(Number(r![3])).toBe(jvm.pid);
      expect(l).toBe(`${pad(r![1]!, 8)} ${pad(r![2]!, 7)} ${pad(r![3]!, 7)} ${r![4]}`);
    }

    // -M 0: every GC, as without it, pid given as an argument
    const zl = z.stdout.trimEnd().split('\n');
    expect(zl.slice(0, 2)).toEqual([BANNER, HEADER]);
    for (const l of zl.slice(2)) expect(Number(l.match(ROW)![3])).toBe(jvm.pid);

    // -F: each GC row is followed by the pool lines that matched, here exactly one
    const ol = o.stdout.trimEnd().split('\n').slice(2);
    expect(ol.length).toBeGreaterThanOrEqual(2 * GCS);
    ol.forEach((l, i) => {
      if (i % 2 === 0) expect(l).toMatch(ROW);
      else expect(l).toMatch(/^ {4}G1 (Old|Young) Generation G1 Old Gen used=\d+->\d+ max=-?\d+->-?\d+$/);
    });
  });

  it('-H: a log2 histogram of pause times at exit, or every interval; with --json as rows', async () => {
    const atExit = await CLI.start(['-p', String(jvm.pid), '-H'], BANNER);
    const every = await CLI.start(['-p', String(jvm.pid), '-H', '1', '--json'], { links: 2 });
    await jvm.round();
    // Interval output: the round's pauses, in one or two intervals.
    const counted = () =>
      every.lines().reduce((n, l) => n + (JSON.parse(l) as { pauses: number }).pauses, 0);
    await every.waitOutput(() => counted() >= GCS);
    const e = await every.stop();
    expect(e.code).toBe(0);
    for (const l of e.stdout.trimEnd().split('\n')) {
      const o = expectJsonLine(l) as any;
      expect(Object.keys(o)).toEqual(['time', 'elapsed', 'unit', 'pauses', 'histogram']);
      expect(o.unit).toBe('usecs');
      expect(o.histogram.reduce((n: number, r: { count: number }) => n + r.count, 0)).toBe(o.pauses);
      for (const r of o.histogram) expect(r.high).toBe(r.low === 0 ? 1 : 2 * r.low - 1);
    }

    expect(atExit.stdout).toBe(`${BANNER}\n`); // nothing until the end
    const x = await atExit.stop();
    expect(x.code).toBe(0);
    expect(x.stderr).toBe('');
    const lines = x.stdout.split('\n');
    expect(lines[0]).toBe(BANNER);
    expect(lines[1]).toBe('');
    expect(lines[2]).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(lines[3]).toBe(HIST_HEADER);
    expect(lines[4]).toMatch(/^ {9}0 -> 1 {10}: \d+/);
    expect(histogramCount(x.stdout)).toBeGreaterThanOrEqual(GCS);
    expect(lines.slice(4, -1).every((l) => HIST_ROW.test(l))).toBe(true);
  });

  it('bad input: one line on stderr, exit 2; not a JVM or a JVM without probes: one line, exit 1', async () => {
    const self = readFileSync('/proc/self/comm', 'utf8').trimEnd();
    const cases: Array<[string[], number, string]> = [
      [[], 2, 'javagc: a PID is required: javagc [options] PID (or -p PID), the Java process to trace'],
      [[String(jvm.pid), '1'], 2, 'javagc: too many arguments. Expected 1 argument but got 2.'],
      [['-p', String(jvm.pid), String(process.pid)], 2, `javagc: two PIDs, ${process.pid} and -p ${jvm.pid}: give the Java process once`],
      [['abc'], 2, "javagc: invalid pid value 'abc': expected a positive integer"],
      [['-M', '5', '-t', '10', String(jvm.pid)], 2, "javagc: option '-M, --minimum <MSEC>' cannot be used with option '-t, --time <TIME>'"],
      [['-M', 'x', String(jvm.pid)], 2, "javagc: invalid -M value 'x': expected a non-negative integer"],
      [[String(process.pid)], 1, `javagc: process ${process.pid} (${self}) is not a Java VM: no libjvm.so in /proc/${process.pid}/maps`],
      [['-p', 'abc'], 2, "javagc: invalid -p value 'abc': expected a positive integer"],
      [['-p', '0'], 2, "javagc: invalid -p value '0': expected 1..4194304"],
      [['-p', '4194304'], 2, "javagc: invalid -p value '4194304': no such process"],
      [['-p', String(jvm.pid), '-t', '-1'], 2, "javagc: invalid -t value '-1': expected a non-negative integer"],
      [['-p', String(jvm.pid), '-t', 'x'], 2, "javagc: invalid -t value 'x': expected a non-negative integer"],
      [['-p', String(jvm.pid), '-H', '0'], 2, "javagc: invalid -H value '0': expected 1..86400"],
      [['-p', String(jvm.pid), '--nope'], 2, "javagc: unknown option '--nope'"],
      [['-p'], 2, "javagc: option '-p, --pid <PID>' argument missing"],
      [['-p', String(process.pid)], 1, `javagc: process ${process.pid} (${self}) is not a Java VM: no libjvm.so in /proc/${process.pid}/maps`],
    ];
    const results = await Promise.all(cases.map(([args]) => CLI.run(args)));
    results.forEach((r, i) => {
      const [args, code, message] = cases[i]!;
      expect({ args, code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({ args, code, stderr: `${message}\n`, stdout: '' });
    });

    const lib = `${tmp.dir}/jdk-nosdt/lib/server/libjvm.so`;
    const r = await CLI.run(['-p', String(noProbes.pid), '--pools']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `javagc: ${lib} of process ${noProbes.pid} has no hotspot:gc__begin, hotspot:gc__end, hotspot:mem__pool__gc__begin, hotspot:mem__pool__gc__end USDT probes (a JVM built without DTrace/SDT support?)\n`,
    );
  });

  it("as root, a JVM whose /proc/PID/maps cannot be read: one line saying so (not \"need root\", not \"not a JVM\")", async () => {
    // Root refused: in a private mount namespace, the JVM's maps file is
    // covered by a mode-000 file, and the tool runs without the capabilities
    // that bypass file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH).
    const covered = join(tmp.dir, 'unreadable');
    writeFileSync(covered, '');
    chmodSync(covered, 0o000);
    const wrap = [
      'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
      'mount --bind "$1" "/proc/$2/maps" && shift 2 && exec setpriv --bounding-set=-dac_override,-dac_read_search -- "$@"',
      'sh', covered, String(jvm.pid),
    ];
    expect(errorLine(await CLI.run([String(jvm.pid)], { wrap }), 1)).toBe(
      `javagc: cannot read /proc/${jvm.pid}/maps: permission denied, even as root (a missing capability, the ptrace access check or a security module refuses it)`,
    );
  });

  it('ends by itself, exit 0, when the JVM exits (last: stops the JVM)', async () => {
    const cli = await CLI.start(['-p', String(jvm.pid)]);
    await jvm.round();
    await cli.waitOutput(() => rows(cli.lines()).length >= GCS);
    await jvm.stop();
    const e = await cli.exited;
    expect(e.code).toBe(0);
    expect(e.stderr).toBe('');
    expect(rows(e.stdout.split('\n')).length).toBeGreaterThanOrEqual(GCS);
  });
});
