// softirqs against the kernel's own counts: /proc/softirqs counts each
// softirq run right before its softirq_entry tracepoint, so what the tool
// counts lies between what /proc/softirqs counted inside the traced window
// (less one run per CPU that may still be in flight at its end) and what it
// counted from before attach to after the last read. Loopback TCP traffic
// the test makes raises NET_RX.
import { createServer, connect, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { possibleCpus } from '@ebpf/core';
import { softirqs, SOFTIRQ_NAMES } from '../src/index.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { parseLog2 } from '../../../test/support/histogram.js';
import { errorLine, expectCleanExit, tool } from '../../../test/support/cli.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: 'Tracing soft irq event time... Hit Ctrl-C to end.' });
const NCPU = possibleCpus();

/** /proc/softirqs: per name (lower case, as BCC names them), per CPU. */
function procSoftirqs(): Map<string, number[]> {
  const lines = readFileSync('/proc/softirqs', 'utf8').trim().split('\n').slice(1);
  return new Map(lines.map((l) => {
    const [name, ...v] = l.trim().split(/\s+/);
    return [name!.replace(/:$/, '').toLowerCase(), v.map(Number)];
  }));
}
const total = (m: Map<string, number[]>, name: string, cpu?: number) => (cpu === undefined ? m.get(name)!.reduce((a, b) => a + b, 0) : m.get(name)![cpu]!);

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(() => server?.close());

/** `n` echoed round trips over loopback TCP. */
async function traffic(n: number): Promise<void> {
  const c = connect(port, '127.0.0.1');
  c.setNoDelay(true);
  await new Promise<void>((r) => c.once('connect', () => r()));
  for (let i = 0; i < n; i++) {
    c.write('x');
    await new Promise<void>((r) => c.once('data', () => r()));
  }
  c.destroy();
}

describe('API', () => {
  it('counts every softirq run the kernel counts, net_rx from loopback traffic among them', async () => {
    const a0 = procSoftirqs();
    const s = softirqs();
    const a = procSoftirqs();
    await traffic(200);
    const b = procSoftirqs();
    const snap = s.close()!;
    const b1 = procSoftirqs();
    expect(total(b, 'net_rx') - total(a, 'net_rx')).toBeGreaterThan(0);
    for (const name of SOFTIRQ_NAMES) {
      const got = snap.stats.find((x) => x.name === name)?.count ?? 0;
      expect(got, name).toBeLessThanOrEqual(total(b1, name) - total(a0, name));
      expect(got, name).toBeGreaterThanOrEqual(total(b, name) - total(a, name) - NCPU);
    }
    for (const x of snap.stats) {
      expect(x.buckets.reduce((p, q) => p + q, 0)).toBe(x.count);
      expect(x.totalNs).toBeGreaterThan(0);
    }
    expect(snap.unit).toBe('usecs');
    const t = snap.stats.map((x) => x.totalNs);
    expect(t).toEqual([...t].sort((p, q) => p - q));
  });

  it('cpu: only that CPU\'s runs', async () => {
    const a0 = procSoftirqs();
    const s = softirqs({ cpu: 0, nanoseconds: true });
    await traffic(100);
    const snap = s.close()!;
    const b1 = procSoftirqs();
    expect(snap.unit).toBe('nsecs');
    for (const name of SOFTIRQ_NAMES) {
      expect(snap.stats.find((x) => x.name === name)?.count ?? 0, name).toBeLessThanOrEqual(total(b1, name, 0) - total(a0, name, 0));
    }
  });

  it('bad options: a UsageError', () => {
    expect(() => softirqs({ cpu: NCPU })).toThrow(/expected 0\.\./);
  });
});

describe('CLI', () => {
  it('the default: BCC\'s SOFTIRQ / TOTAL_usecs table, least time first', async () => {
    const cli = await CLI.start([]);
    await traffic(100);
    const e = await cli.stop();
    expectCleanExit(e);
    const lines = e.stdout.split('\n');
    expect(lines.slice(1, 3)).toEqual(['', `${'SOFTIRQ'.padEnd(16)} ${'TOTAL_usecs'.padStart(11)}`]);
    const rows = lines.slice(3).filter(Boolean).map((l) => /^(\S+) +(\d+)$/.exec(l)!);
    expect(rows.map((m) => m[1])).toContain('net_rx');
    for (const m of rows) expect(SOFTIRQ_NAMES).toContain(m[1]);
    const v = rows.map((m) => Number(m[2]));
    expect(v).toEqual([...v].sort((p, q) => p - q));
  });

  it('-C: counts; -d: a histogram per softirq; --json', async () => {
    const c = await CLI.start(['-C'], 'Tracing soft irq events... Hit Ctrl-C to end.');
    await traffic(50);
    const e = await c.stop();
    expectCleanExit(e);
    expect(e.stdout).toContain(`${'SOFTIRQ'.padEnd(16)} ${'TOTAL_count'.padStart(11)}\n`);
    const d = await CLI.start(['-d']);
    await traffic(50);
    const ed = await d.stop();
    const hs = parseLog2(ed.stdout);
    expect(hs.map((h) => h.section?.name)).toContain('softirq');
    expect(hs.find((h) => h.section?.label === 'net_rx')!.total).toBeGreaterThan(0);
    const j = await CLI.start(['--json'], { links: 2 });
    await traffic(50);
    const ej = await j.stop();
    const objs = ej.stdout.split('\n').filter(Boolean).map((l) => expectJsonLine(l) as any);
    expect(Object.keys(objs[0])).toEqual(['time', 'elapsed', 'unit', 'softirq', 'count', 'total', 'average', 'buckets']);
    expect(objs.map((o) => o.softirq)).toContain('net_rx');
  });

  it('usage errors: -C with -d, -c out of range', async () => {
    expect(errorLine(await CLI.run(['-C', '-d']), 2)).toBe("softirqs: the --events option can't be used with time-based options");
    expect(errorLine(await CLI.run(['-c', String(NCPU)]), 2)).toMatch(/^softirqs: invalid/);
  });
});
