// The memleak CLI as users run it: BCC's text, the final report on Ctrl-C,
// -c, --combined-only, -t, --json, and one-line errors with exit code 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workload, buildWorkloads, parseReports } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { errorLine, expectCleanExit, tool, type Cli } from '../../../test/support/cli.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url));
let bins: ReturnType<typeof buildWorkloads>;
const workloads: Workload[] = [];

beforeAll(() => {
  bins = buildWorkloads();
});

afterAll(async () => {
  for (const w of workloads) await w.stop();
});

const HEADER = /^\[\d\d:\d\d:\d\d\] Top \d+ stacks with outstanding allocations:$/;

/** A workload and the CLI attached to it (ready: its banner is out). */
async function attached(args: string[], mode = 'basic', leaks = 5, size = 123, tidy = 50): Promise<{ w: Workload; cli: Cli }> {
  const w = await Workload.start(bins.workload, mode, leaks, size, tidy);
  workloads.push(w);
  const attachedJson = `"type":"attached","mode":"user","pid":${w.pid}}\n`;
  const banner = args.includes('--json') ? (out: string) => out.split('\n')[0]!.startsWith('{"time":') && out.includes(attachedJson) : `Attaching to pid ${w.pid}, Ctrl+C to quit.`;
  const cli = await CLI.start(['-p', String(w.pid), ...args], banner);
  return { w, cli };
}

describe('reports', () => {
  it('the final report on SIGINT, exactly as BCC prints a stack (address, tab, symbol)', async () => {
    const { w, cli } = await attached(['-o', '0', '60']); // interval 60: only the final report
    await w.go();
    const e = await cli.stop('SIGINT');
    expectCleanExit(e);
    const lines = e.stdout.split('\n');
    expect(lines[0]).toBe(`Attaching to pid ${w.pid}, Ctrl+C to quit.`);
    expect(lines[1]).toMatch(HEADER);
    expect(lines[1]).toContain('] Top 1 stacks'); // the number shown, not -T
    expect(lines[2]).toBe('\t615 bytes in 5 allocations from stack');
    expect(lines[3]).toMatch(/^\t\t0x[0-9a-f]{16}\tmemleak_test_leak\+0x[0-9a-f]+ \[workload\]$/);
    expect(lines[4]).toMatch(/^\t\t0x[0-9a-f]{16}\tmain\+0x[0-9a-f]+ \[workload\]$/);
    expect(e.stdout.endsWith('\n')).toBe(true);
    expect(e.stdout).not.toContain('memleak_test_tidy');
  });

  it('SIGTERM: the final report too', async () => {
    const { w, cli } = await attached(['-o', '0', '60']);
    await w.go();
    const e = await cli.stop('SIGTERM');
    expectCleanExit(e);
    const [r] = parseReports(e.stdout);
    expect(r!.stacks.map((s) => [s.bytes, s.allocations])).toEqual([[615, 5]]);
  });

  it('--combined-only: the in-kernel totals, frames without addresses', async () => {
    const { w, cli } = await attached(['--combined-only', '60'], 'basic', 4, 1000);
    await w.go();
    const e = await cli.stop();
    expectCleanExit(e);
    const [r] = parseReports(e.stdout);
    expect(r!.stacks).toHaveLength(1);
    expect(r!.stacks[0]).toMatchObject({ bytes: 4000, allocations: 4 });
    expect(r!.stacks[0]!.frames[0]).toMatch(/^\t\tmemleak_test_leak\+0x[0-9a-f]+ \[workload\]$/);
  });

  it('-a, -T and the order: biggest stack last, addr lines first, smallest first', async () => {
    const { w, cli } = await attached(['-a', '-o', '0', '-T', '1', '60'], 'sizes', 2, 30);
    await w.go();
    const e = await cli.stop();
    expectCleanExit(e);
    const [r] = parseReports(e.stdout);
    expect(r!.header).toContain('] Top 1 stacks');
    expect(r!.addrs.map((l) => Number(l.split(' size = ')[1]))).toEqual([30, 30, 1500, 1500]);
    for (const l of r!.addrs) expect(l).toMatch(/^\taddr = [0-9a-f]+ size = \d+$/);
    expect(r!.stacks.map((s) => [s.bytes, s.allocations])).toEqual([[3000, 2]]);
    expect(r!.stacks[0]!.frames[0]).toContain('memleak_test_large+');
  });

  it('interval and count: COUNT reports, then it exits by itself', async () => {
    const { w, cli } = await attached(['-o', '0', '1', '2'], 'basic', 1, 8, 0);
    await w.go();
    const e = await cli.exited;
    expectCleanExit(e);
    const reports = parseReports(e.stdout);
    expect(reports).toHaveLength(2);
    expect(reports[1]!.stacks.map((s) => s.bytes)).toEqual([8]);
  });

  it('--json: one object per report', async () => {
    const { w, cli } = await attached(['--json', '-o', '0', '60'], 'basic', 3, 10);
    await w.go();
    const e = await cli.stop();
    expectCleanExit(e);
    const lines = e.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const a = expectJsonLine(lines[0]!);
    expect(a).toEqual({ time: a.time, elapsed: 0, type: 'attached', mode: 'user', pid: w.pid });
    const r = expectJsonLine(lines[1]!) as any;
    expect(r).toMatchObject({ type: 'report', combined: false, totalBytes: 30, totalAllocations: 3, totalStacks: 1 });
    expect(r.stacks[0]).toMatchObject({ bytes: 30, allocations: 3, lost: false });
    expect(r.stacks[0].frames[0]).toMatchObject({ name: 'memleak_test_leak', module: 'workload' });
    expect(r.stacks[0].frames[0].address).toMatch(/^\d+$/); // 64 bits: a decimal string
    expect(r.stacks[0].stackId).toMatch(/^\d+$/);
  });
});

describe('-c', () => {
  it('runs the command, catches what it allocates first thing in main(), reports when it exits', async () => {
    const cmd = `${bins.startleak} 4 250`;
    const e = await CLI.run(['-c', cmd]);
    expectCleanExit(e);
    const lines = e.stdout.split('\n');
    expect(lines[0]).toBe(`Executing '${cmd}' and tracing the resulting process.`);
    expect(lines[1]).toMatch(/^Attaching to pid \d+, Ctrl\+C to quit\.$/);
    // The command lived a few milliseconds: younger than -o's 500 ms, but
    // once it has exited every block left is a leak.
    const [r] = parseReports(e.stdout);
    expect(r!.stacks.map((s) => [s.bytes, s.allocations])).toEqual([[1000, 4]]);
    expect(r!.stacks[0]!.frames[0]).toMatch(/\tmemleak_test_early\+0x[0-9a-f]+ \[startleak\]$/);
  });
});

describe('-t', () => {
  it("prints each call as BCC prints trace_fields()'s tuple", async () => {
    const { w, cli } = await attached(['-t'], 'basic', 1, 72, 1);
    await w.go();
    await cli.waitOutput((o) => o.includes('free entered'));
    const e = await cli.stop();
    expectCleanExit(e);
    const lines = e.stdout.split('\n').filter((l) => l.startsWith('('));
    const tuple = /^\(b'workload', (\d+), \d+, b'\.\.\.\.', \d+\.\d+, b'(.*)'\)$/;
    for (const l of lines) expect(l).toMatch(tuple);
    const msgs = lines.map((l) => l.match(tuple)![2]);
    expect(msgs[0]).toBe('alloc entered, size = 72');
    expect(msgs[1]).toMatch(/^alloc exited, size = 72, result = [0-9a-f]+$/);
    expect(msgs[2]).toBe('alloc entered, size = 16');
    const addr = msgs[3]!.match(/^alloc exited, size = 16, result = ([0-9a-f]+)$/)![1];
    expect(msgs[4]).toBe(`free entered, address = ${addr}, size = 16`);
    expect(Number(lines[0]!.match(tuple)![1])).toBe(w.pid);
    expect(e.stdout).not.toMatch(HEADER); // -t prints no reports
  });
});

describe('kernel mode', () => {
  it('shows kernel stacks, frames as `function+0xoff [kernel]`', async () => {
    const e = await CLI.run(['-o', '0', '-T', '3', '1', '1']);
    expect([e.code, e.signal]).toEqual([0, null]);
    // A busy machine can fill the tables in kernel mode: that is said, once per report.
    for (const l of e.stderr.split('\n').filter(Boolean)) expect(l).toMatch(/^memleak: \d+ allocations not tracked/);
    const lines = e.stdout.split('\n');
    expect(lines[0]).toBe('Attaching to kernel allocators, Ctrl+C to quit.');
    const [r] = parseReports(e.stdout);
    expect(r!.stacks.length).toBeGreaterThan(0);
    expect(r!.stacks.length).toBeLessThanOrEqual(3);
    expect(r!.shown).toBe(r!.stacks.length);
    const frames = r!.stacks.flatMap((s) => s.frames);
    expect(frames.some((f) => /^\t\t0x[0-9a-f]{16}\t\w+\+0x[0-9a-f]+ \[kernel\]$/.test(f))).toBe(true);
  });
});

describe('bad input: one line on stderr, exit 2', () => {
  const cases: Array<[string[], RegExp]> = [
    [['-z', '10', '-Z', '5'], /^memleak: min_size \(-z\) can't be greater than max_size \(-Z\)\n$/],
    [['-p', '999999999'], /^memleak: invalid -p value '999999999'/],
    [['-p', '4194303'], /^memleak: invalid -p value '4194303': no such process\n$/],
    [['-p', 'abc'], /^memleak: invalid -p value 'abc'/],
    [['-s', '0'], /^memleak: invalid -s value '0'/],
    [['-T', 'x'], /^memleak: invalid -T value 'x'/],
    [['0'], /^memleak: invalid interval value '0'/],
    [['--no-such-flag'], /^memleak: unknown option '--no-such-flag'\n$/],
    [['-c', '/no/such/program'], /^memleak: cannot run '\/no\/such\/program': command not found\n$/],
    [['-p', '1', '-c', 'true'], /^memleak: -p and -c cannot be used together\n$/],
    [['--percpu', '-p', '1'], /^memleak: --percpu traces kernel allocations/],
  ];
  for (const [args, message] of cases) {
    it(args.join(' '), async () => {
      const e = await CLI.run(args);
      expect(e.stderr).toMatch(message);
      errorLine(e, 2);
    });
  }
});
