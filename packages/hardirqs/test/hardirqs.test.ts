// hardirqs against the kernel's own counts: /proc/interrupts counts each
// interrupt before its handlers run, so what the tool counts for a handler
// lies between the interrupt's count inside the traced window (less one per
// CPU that may still be in its handler at the end) and its count from before
// attach to after the last read. Direct-I/O writes with fsync make the disk's
// completion interrupts move. Only interrupts with an irqaction reach the
// tracepoints: the numbered lines of /proc/interrupts, not LOC, RES, CAL...
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { possibleCpus } from '@ebpf/core';
import { hardirqs } from '../src/index.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { parseLog2 } from '../../../test/support/histogram.js';
import { errorLine, expectCleanExit, tool } from '../../../test/support/cli.js';
import { tempDir, type TempDir } from '../../../test/support/tmp.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: 'Tracing hard irq event time... Hit Ctrl-C to end.' });
const NCPU = possibleCpus();

/** Numbered lines of /proc/interrupts with one handler: name → per-CPU counts (summed over lines of the same name). */
function procIrqs(): Map<string, number[]> {
  const [head, ...lines] = readFileSync('/proc/interrupts', 'utf8').trimEnd().split('\n');
  const ncol = head!.trim().split(/\s+/).length;
  const out = new Map<string, number[]>();
  for (const l of lines) {
    const f = l.trim().split(/\s+/);
    if (!/^\d+:$/.test(f[0]!) || l.includes(',')) continue;
    const counts = f.slice(1, 1 + ncol).map(Number);
    const name = f[f.length - 1]!;
    if (f.length < ncol + 3) continue; // no handler name
    const prev = out.get(name);
    out.set(name, prev ? prev.map((v, i) => v + counts[i]!) : counts);
  }
  return out;
}
const sum = (m: Map<string, number[]>, name: string) => (m.get(name) ?? []).reduce((a, b) => a + b, 0);

let tmp: TempDir;
beforeAll(() => {
  tmp = tempDir('hardirqs-test-');
});
afterAll(() => tmp?.cleanup());

/** 64 direct 4 KiB writes and an fsync to a file on the root disk. */
const io = () =>
  execFileSync('dd', ['if=/dev/zero', `of=${join(tmp.dir, 'f')}`, 'bs=4k', 'count=64', 'oflag=direct', 'conv=fsync'], { stdio: 'ignore' });

describe('API', () => {
  it('counts every handler run of the interrupts that moved, as /proc/interrupts counts them', async (ctx) => {
    const a0 = procIrqs();
    const h = hardirqs();
    const a = procIrqs();
    io();
    const b = procIrqs();
    const snap = h.close()!;
    const b1 = procIrqs();
    const moved = [...b.keys()].filter((n) => sum(b, n) - sum(a, n) > NCPU);
    if (moved.length === 0) ctx.skip(); // /proc/interrupts showed no traceable device interrupt moving
    for (const name of moved) {
      const got = snap.stats.find((x) => x.name === name)?.count ?? 0;
      expect(got, name).toBeGreaterThanOrEqual(sum(b, name) - sum(a, name) - NCPU);
      expect(got, name).toBeLessThanOrEqual(sum(b1, name) - sum(a0, name));
    }
    for (const x of snap.stats) {
      expect(x.buckets.reduce((p, q) => p + q, 0)).toBe(x.count);
      if (b1.has(x.name)) expect(x.count, x.name).toBeLessThanOrEqual(sum(b1, x.name) - sum(a0, x.name));
    }
    expect(h.lost()).toBe(0);
  });

  it('bad options: a UsageError', () => {
    expect(() => hardirqs({ cpu: NCPU })).toThrow(/expected 0\.\./);
  });
});

describe('CLI', () => {
  it('the default table (HARDIRQ / TOTAL_usecs), -C counts, -d histograms, --json', async () => {
    const c = await CLI.start([]);
    io();
    const e = await c.stop();
    expectCleanExit(e);
    const lines = e.stdout.split('\n');
    expect(lines.slice(1, 3)).toEqual(['', `${'HARDIRQ'.padEnd(26)} ${'TOTAL_usecs'.padStart(11)}`]);
    for (const l of lines.slice(3).filter(Boolean)) expect(l).toMatch(/^\S.{25} +\d+$/);
    const cc = await CLI.start(['-C'], 'Tracing hard irq events... Hit Ctrl-C to end.');
    io();
    expect((await cc.stop()).stdout).toContain(`${'HARDIRQ'.padEnd(26)} ${'TOTAL_count'.padStart(11)}\n`);
    const d = await CLI.start(['-d']);
    io();
    const ed = await d.stop();
    expectCleanExit(ed);
    for (const hh of parseLog2(ed.stdout)) expect(hh.section?.name).toBe('hardirq');
    const j = await CLI.start(['--json'], { links: 2 });
    io();
    const objs = (await j.stop()).stdout.split('\n').filter(Boolean).map((l) => expectJsonLine(l));
    for (const o of objs) expect(Object.keys(o)).toEqual(['time', 'elapsed', 'unit', 'hardirq', 'count', 'total', 'average', 'buckets']);
  });

  it('usage errors: -C with -N', async () => {
    expect(errorLine(await CLI.run(['-C', '-N']), 2)).toBe("hardirqs: the --count option can't be used with time-based options");
  });
});
