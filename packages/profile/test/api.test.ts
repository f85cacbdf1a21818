// The profile API against real workloads: a C function burning CPU, found
// by its symbol with main below it; user/kernel stack choices; JIT frames of
// a Node app named from its perf map; bad options.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profile, type ProfileOptions, type ProfileStack, type Report } from '../src/index.js';
import { HOT_C, HOT_JS, buildSpinner, samplesIn, startNode, startSpinner, stacksWith } from './helpers.js';
import { killChildren } from '../../../test/support/workload.js';
import { until, thrown } from '../../../test/support/wait.js';

let bin: string;
beforeAll(() => {
  bin = buildSpinner();
});
afterAll(killChildren);

/** Profiles until `enough` holds over the stacks gathered so far (reports drain the counts: they are added up). */
async function gather(o: ProfileOptions, enough: (all: ProfileStack[], r: Report) => boolean, what: string): Promise<{ all: ProfileStack[]; reports: Report[] }> {
  const p = profile(o);
  const all: ProfileStack[] = [];
  const reports: Report[] = [];
  try {
    await until(() => {
      const r = p.snapshot();
      reports.push(r);
      all.push(...r.stacks);
      return enough(all, r);
    }, what);
  } finally {
    p.close();
  }
  return { all, reports };
}
const report = (stacks: ProfileStack[]): Report => ({ stacks }) as Report;

describe('profile()', () => {
  it('samples a spinning C function by its user stack: the function innermost, main below it, the process and comm', async () => {
    const c = await startSpinner(bin);
    const { all } = await gather({ pid: c.pid, frequency: 199 }, (a) => samplesIn(stacksWith(report(a), HOT_C)) >= 20, `20 samples in ${HOT_C}`);
    const mine = stacksWith(report(all), HOT_C);
    for (const s of mine) {
      expect(s.pid).toBe(c.pid);
      expect(s.comm).toBe('spinner');
      expect(s.userFrames![0]!.name).toBe(HOT_C);
      expect(s.userFrames![0]!.module).toBe('spinner');
      expect(s.userFrames!.map((f) => f.name)).toContain('__libc_start_call_main');
      expect(s.userMissed).toBe(false);
    }
    // Most samples land in the loop, where the frame-pointer walk finds main
    // (a sample in the function's first instructions, before its frame is
    // set up, finds main's caller instead).
    const top = mine.sort((a, b) => b.count - a.count)[0]!;
    expect(top.userFrames![1]!.name).toBe('main');
    // -p: nothing else.
    expect(all.every((s) => s.pid === c.pid)).toBe(true);
  });

  it('userStacksOnly leaves kernel stacks out, kernelStacksOnly user stacks', async () => {
    const c = await startSpinner(bin);
    const u = await gather({ pid: c.pid, frequency: 199, userStacksOnly: true }, (a) => samplesIn(stacksWith(report(a), HOT_C)) >= 5, 'user samples');
    expect(u.all.every((s) => s.kernelFrames === undefined && s.userFrames !== undefined)).toBe(true);
    const k = await gather({ pid: c.pid, frequency: 199, kernelStacksOnly: true }, (a) => samplesIn(a) >= 5, 'kernel-only samples');
    expect(k.all.every((s) => s.userFrames === undefined && s.kernelFrames !== undefined)).toBe(true);
  });

  it('names the JavaScript functions of node --perf-basic-prof from /tmp/perf-PID.map', async () => {
    const n = await startNode();
    const { all, reports } = await gather({ pid: n.pid, frequency: 199, userStacksOnly: true }, (a) => samplesIn(stacksWith(report(a), new RegExp(HOT_JS))) >= 10, `10 samples in ${HOT_JS}`);
    const js = stacksWith(report(all), new RegExp(HOT_JS));
    const frame = js[0]!.userFrames!.find((f) => f.name!.includes(HOT_JS))!;
    expect(frame.module).toBe(`perf-${n.pid}.map`);
    expect(frame.name).toMatch(/hot\.js/);
    expect(reports.reduce((t, r) => t + r.jitFrames, 0)).toBeGreaterThan(0);
  });

  it('bad options are UsageErrors before anything loads', () => {
    expect(thrown(() => profile({ frequency: 0 })).message).toMatch(/frequency/);
    expect(thrown(() => profile({ frequency: 99, sampleCount: 1000 })).message).toMatch(/exclude/);
    expect(thrown(() => profile({ pid: 1, tid: 1 })).message).toMatch(/exclude/);
    expect(thrown(() => profile({ cpu: 4095 })).message).toMatch(/CPU/);
    expect(thrown(() => profile({ userStacksOnly: true, kernelStacksOnly: true })).message).toMatch(/exclude/);
  });
});
