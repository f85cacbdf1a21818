// The biolatency CLI as users run it: a child process printing into a pipe,
// stopped by a signal or by its own interval count, while a direct-I/O
// workload of a known size runs on the root disk. Other processes may add
// I/O, so counts are "at least". Count checks may run up to three times:
// see RETRY in api.test.ts (the kernel sometimes skips block tracepoint
// programs under load).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dio, parseHistograms, workload, type ParsedHistogram, type Workload } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { errorLine, expectCleanExit, tool, type Exit } from '../../../test/support/cli.js';

const READS = 300;
const WRITES = 100;
const BANNER = 'Tracing block device I/O... Hit Ctrl-C to end.\n';
const RETRY = { retry: 2 };
const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: BANNER.trimEnd() });

let w: Workload;
beforeAll(() => {
  w = workload();
});
afterAll(() => w?.cleanup());

/** Rows are BCC's: consecutive power-of-two buckets from 0 -> 1, bars scaled to the largest count. */
function expectBccRows(h: ParsedHistogram): void {
  expect(h.rows.length).toBeGreaterThan(0);
  const max = Math.max(...h.rows.map((r) => r.count));
  h.rows.forEach((r, i) => {
    expect([r.low, r.high]).toEqual([i === 0 ? 0 : 2 ** i, 2 ** (i + 1) - 1]);
    expect(r.bar).toBe('*'.repeat(Math.floor((40 * r.count) / max)).padEnd(40));
  });
  expect(h.rows[h.rows.length - 1]!.count).toBeGreaterThan(0);
}

/** Runs the workload while the CLI traces, then stops it with `signal`. */
async function traced(args: string[], signal: NodeJS.Signals = 'SIGINT'): Promise<Exit> {
  const cli = await CLI.start(args);
  await dio(w, 'read', READS);
  await dio(w, 'write', WRITES);
  return cli.stop(signal);
}

describe('output format', () => {
  it('default: the banner, then at Ctrl-C one blank line and the usecs histogram, exactly as BCC', RETRY, async () => {
    const e = await traced([]);
    expectCleanExit(e);
    expect(e.stdout.startsWith(`${BANNER}\n     usecs               : count     distribution\n`)).toBe(true);
    const hs = parseHistograms(e.stdout);
    expect(hs).toHaveLength(1);
    expectBccRows(hs[0]!);
    expect(hs[0]!.total).toBeGreaterThanOrEqual(READS + WRITES);
    // nothing but the banner, the blank line and the histogram
    expect(e.stdout.split('\n').length).toBe(3 + hs[0]!.rows.length + 1);
  });

  it('SIGTERM prints the final histogram too, and exits 0', RETRY, async () => {
    const e = await traced([], 'SIGTERM');
    expectCleanExit(e);
    const hs = parseHistograms(e.stdout);
    expect(hs).toHaveLength(1);
    expect(hs[0]!.total).toBeGreaterThanOrEqual(READS + WRITES);
  });

  it('-D: one histogram per disk under "disk = NAME", the workload disk among them', RETRY, async () => {
    const e = await traced(['-D']);
    expectCleanExit(e);
    const sections = e.stdout.slice(BANNER.length).split(/\ndisk = /).slice(1);
    const names = sections.map((s) => s.slice(0, s.indexOf('\n')));
    expect(names).toContain(w.disk);
    expect(new Set(names).size).toBe(names.length);
    const mine = sections[names.indexOf(w.disk)]!;
    expect(mine.startsWith(`${w.disk}\n     usecs               : count     distribution\n`)).toBe(true);
    const [h] = parseHistograms(mine);
    expectBccRows(h!);
    expect(h!.total).toBeGreaterThanOrEqual(READS + WRITES);
    expect(e.stdout.startsWith(`${BANNER}\n\ndisk = `)).toBe(true);
  });

  it('-F: one histogram per flag set under "flags = ...", reads and writes apart', RETRY, async () => {
    const e = await traced(['-F']);
    expectCleanExit(e);
    const sections = e.stdout.slice(BANNER.length).split(/\nflags = /).slice(1);
    const names = sections.map((s) => s.slice(0, s.indexOf('\n')));
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^([A-Za-z]+-)*[A-Za-z]+(\(\d+\))?$/);
    const total = (op: string) =>
      sections.filter((_, i) => names[i]!.endsWith(`-${op}`) || names[i] === op).reduce((a, s) => a + parseHistograms(s)[0]!.total, 0);
    expect(total('Read')).toBeGreaterThanOrEqual(READS);
    expect(total('Write')).toBeGreaterThanOrEqual(WRITES);
  });

  it('-m: buckets in milliseconds', RETRY, async () => {
    const e = await traced(['-m']);
    expectCleanExit(e);
    const hs = parseHistograms(e.stdout);
    expect(hs).toHaveLength(1);
    expect(hs[0]!.unit).toBe('msecs');
    expect(e.stdout).toContain('\n     msecs               : count     distribution\n');
    expectBccRows(hs[0]!);
    expect(hs[0]!.total).toBeGreaterThanOrEqual(READS + WRITES);
  });

  it('-e: the average and total line after the histogram, consistent with it', RETRY, async () => {
    const e = await traced(['-e']);
    expectCleanExit(e);
    const [h] = parseHistograms(e.stdout);
    const m = /\n\navg = (\d+) usecs, total: (\d+) usecs, count: (\d+)\n\n$/.exec(e.stdout);
    expect(m).not.toBeNull();
    const [avg, total, count] = [Number(m![1]), Number(m![2]), Number(m![3])];
    expect(count).toBe(h!.total);
    expect(count).toBeGreaterThanOrEqual(READS + WRITES);
    expect(Math.abs(avg - total / count)).toBeLessThanOrEqual(1);
  });

  it('-d DISK: that disk only', RETRY, async () => {
    const e = await traced(['-d', w.disk, '-D']);
    expectCleanExit(e);
    const names = [...e.stdout.matchAll(/\ndisk = (.*)\n/g)].map((m) => m[1]);
    expect(names).toEqual([w.disk]);
    expect(parseHistograms(e.stdout)[0]!.total).toBeGreaterThanOrEqual(READS + WRITES);
  });

  it('-j/--json: one JSON object per histogram, with buckets, disk, time and elapsed', RETRY, async () => {
    const t0 = Date.now();
    // No banner in JSON mode: ready once it holds its links (block_rq_issue, _requeue, _complete).
    const cli = await CLI.start(['--json', '-D'], { links: 3 });
    await dio(w, 'read', READS);
    const e = await cli.stop();
    expectCleanExit(e);
    const lines = e.stdout.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(0);
    const objs = lines.map((l) => expectJsonLine(l) as any);
    for (const o of objs) {
      expect(Object.keys(o)).toEqual(['time', 'elapsed', 'unit', 'disk', 'count', 'total', 'average', 'buckets']);
      expect(o.unit).toBe('usecs');
      expect(Date.parse(o.time)).toBeGreaterThanOrEqual(t0 - 1000);
      expect(o.elapsed).toBeGreaterThan(0);
      expect(o.buckets.reduce((a: number, b: { count: number }) => a + b.count, 0)).toBe(o.count);
      o.buckets.forEach((b: { low: number; high: number }, i: number) => {
        expect([b.low, b.high]).toEqual([i === 0 ? 0 : 2 ** i, 2 ** (i + 1) - 1]);
      });
    }
    const mine = objs.find((o) => o.disk === w.disk);
    expect(mine.count).toBeGreaterThanOrEqual(READS);
    expect(mine.average).toBe(Math.floor(mine.total / mine.count));
  });
});

describe('intervals', () => {
  it('"-T 1 2": exactly two periods, each a blank line, the time and a histogram; exits 0 by itself', RETRY, async () => {
    const running = dio(w, 'loop', 2600);
    const e = await CLI.run(['-T', '1', '2']);
    await running;
    expectCleanExit(e);
    expect(e.stdout.startsWith(BANNER)).toBe(true);
    const periods = e.stdout.slice(BANNER.length).split(/^\n(?=\d\d:\d\d:\d\d\n)/m);
    expect(periods[0]).toBe('');
    expect(periods).toHaveLength(3);
    for (const p of periods.slice(1)) {
      expect(p).toMatch(/^\d\d:\d\d:\d\d\n     usecs               : count     distribution\n/);
      const hs = parseHistograms(p);
      expect(hs).toHaveLength(1);
      expectBccRows(hs[0]!);
    }
  });

  it('"1 2": exactly two histograms', RETRY, async () => {
    const running = dio(w, 'loop', 2600);
    const e = await CLI.run(['1', '2']);
    await running;
    expectCleanExit(e);
    expect(parseHistograms(e.stdout)).toHaveLength(2);
    expect(e.stdout.split('\n\n     usecs').length).toBe(3);
  });
});

describe('usage errors: one line on stderr, exit 2', () => {
  const usage = async (args: string[], message: string | RegExp) => {
    const e = await CLI.run(args);
    errorLine(e, 2);
    if (typeof message === 'string') expect(e.stderr).toBe(`biolatency: ${message}\n`);
    else expect(e.stderr).toMatch(message);
  };

  it('-d nosuchdisk', () => usage(['-d', 'nosuchdisk'], "no such disk 'nosuchdisk'"));
  it('-D with -F', () => usage(['-D', '-F'], 'can only use -D or -F'));
  it('a bad interval or count, a third positional, an unknown flag', async () => {
    await usage(['0'], "invalid interval value '0': expected 1..99999999");
    await usage(['1', 'x'], "invalid count value 'x': expected a positive integer");
    await usage(['1', '2', '3'], /^biolatency: too many arguments/);
    await usage(['-x'], "biolatency: unknown option '-x'".replace('biolatency: ', ''));
  });
  it('-c with a directory that is not a cgroup', () => usage(['-c', '/tmp'], /^biolatency: -c \/tmp: not a cgroup v2 directory \(cgroup v2 is mounted at /));
});
