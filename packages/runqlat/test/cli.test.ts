// The runqlat CLI as users run it: BCC's banner, histograms and sections,
// -m, -T with interval and count, --json, and usage errors, against the
// workload's waits (the kernel's own switch counts say how many).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rqwork, buildRqwork, switches } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { countFrom, expectLog2Rows, parseLog2 } from '../../../test/support/histogram.js';
import { errorLine, expectCleanExit, tool } from '../../../test/support/cli.js';

const BANNER = 'Tracing run queue latency... Hit Ctrl-C to end.';
const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: BANNER });

let bin: string;
beforeAll(() => {
  bin = buildRqwork();
});
afterAll(() => Rqwork.stopAll());

/** The kernel's count exactly, less only the waits the CLI's stderr reports not counted (see api.test.ts). */
function expectWaits(count: number, expected: number, stderr: string): void {
  const lost = [...stderr.matchAll(/^(\d+) run queue waits not counted/gm)].reduce((a, m) => a + Number(m[1]), 0);
  expect(count).toBeLessThanOrEqual(expected);
  expect(count).toBeGreaterThanOrEqual(expected - lost);
}

/**
 * A clean end of a run over the whole machine: exit 0, no stack trace, and on
 * stderr nothing but the lost-waits line, which such a run may print (a task
 * whose storage the kernel could not give, e.g. when another BPF program
 * held task storage on that CPU: counted and reported, never silent).
 */
function expectCleanSystemWideExit(e: Awaited<ReturnType<typeof CLI.run>>): void {
  expect(e.stderr).not.toMatch(/^\s+at /m);
  for (const l of e.stderr.split('\n').filter(Boolean)) expect(l).toMatch(/^\d+ run queue waits not counted \(/);
  expect([e.code, e.signal]).toEqual([0, null]);
}

describe('output', () => {
  it('-p PID -L: a "tid = N" section per thread of that process, the usecs histogram under each', async () => {
    const w = await Rqwork.start(bin);
    const cli = await CLI.start(['-p', String(w.pid), '-L']);
    const tids = await w.pingpong(1000);
    const e = await cli.stop();
    expectCleanExit(e);
    expect(e.stdout.startsWith(`${BANNER}\n\n\ntid = `)).toBe(true);
    const hs = parseLog2(e.stdout);
    for (const h of hs) {
      expect(h.section?.name).toBe('tid');
      expect(h.unit).toBe('usecs');
      expectLog2Rows(h);
    }
    const labels = hs.map((h) => Number(h.section!.label));
    expect(labels).toEqual([...labels].sort((a, b) => a - b));
    for (const t of tids) expectWaits(hs.find((h) => h.section!.label === String(t))!.total, switches(w.pid, t), e.stderr);
  });

  it('-P: a "pid = N" section per process, the workload\'s among them', async () => {
    const cli = await CLI.start(['-P']);
    const w = await Rqwork.start(bin);
    await w.pingpong(300);
    const e = await cli.stop('SIGTERM');
    expectCleanSystemWideExit(e);
    const mine = parseLog2(e.stdout).find((h) => h.section?.name === 'pid' && h.section.label === String(w.pid));
    expect(mine).toBeDefined();
    expectLog2Rows(mine!);
  });

  it('-m: msecs; waits behind a real-time thread land at 4 ms and above', async () => {
    const w = await Rqwork.start(bin);
    const cli = await CLI.start(['-m', '-L', '-p', String(w.pid)]);
    const [, woken] = await w.delay(6, 5);
    const e = await cli.stop();
    expectCleanExit(e);
    const h = parseLog2(e.stdout).find((x) => x.section?.label === String(woken))!;
    expect(h.unit).toBe('msecs');
    expect(countFrom(h, 4)).toBeGreaterThanOrEqual(6);
  });

  it('--json -p PID -L: one object per thread, with the unit, count, total, average and buckets', async () => {
    const w = await Rqwork.start(bin);
    const cli = await CLI.start(['--json', '-L', '-p', String(w.pid)], { links: 3 });
    const tids = await w.pingpong(500);
    const e = await cli.stop();
    expectCleanExit(e);
    const objs = e.stdout.split('\n').filter(Boolean).map((l) => expectJsonLine(l) as any);
    for (const o of objs) {
      expect(Object.keys(o)).toEqual(['time', 'elapsed', 'unit', 'tid', 'comm', 'count', 'total', 'average', 'buckets']);
      expect(o.unit).toBe('usecs');
      expect(o.buckets.reduce((a: number, b: { count: number }) => a + b.count, 0)).toBe(o.count);
      expect(o.average).toBe(Math.floor(o.total / o.count));
    }
    for (const t of tids) expectWaits(objs.find((o) => o.tid === t).count, switches(w.pid, t), e.stderr);
  });

  it('-T 1 2: two periods, each a blank line, the time and a histogram; exits by itself', async () => {
    const e = await CLI.run(['-T', '1', '2']);
    expectCleanSystemWideExit(e);
    const periods = e.stdout.slice(BANNER.length + 1).split(/^\n(?=\d\d:\d\d:\d\d\n)/m);
    expect(periods[0]).toBe('');
    expect(periods).toHaveLength(3);
    // The CLI's own thread waits each time its timer wakes it: no period is empty.
    for (const p of periods.slice(1)) {
      expect(p).toMatch(/^\d\d:\d\d:\d\d\n     usecs               : count     distribution\n/);
      expectLog2Rows(parseLog2(p)[0]!);
    }
  });
});

describe('usage errors: one line on stderr, exit 2', () => {
  const usage = async (args: string[], message: RegExp) => {
    const e = await CLI.run(args);
    expect(errorLine(e, 2)).toMatch(message);
  };
  it('-P with -L', () => usage(['-P', '-L'], /^runqlat: can only use one of -P, -L and --pidnss$/));
  it('-p of no process, -p abc', async () => {
    await usage(['-p', '99999999'], /^runqlat: /);
    await usage(['-p', 'abc'], /^runqlat: /);
  });
  it('a bad interval, a third positional', async () => {
    await usage(['0'], /^runqlat: invalid interval value '0'/);
    await usage(['1', '2', '3'], /^runqlat: too many arguments/);
  });
});
