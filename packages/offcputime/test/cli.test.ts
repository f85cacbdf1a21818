// The offcputime CLI as users run it: BCC's banner, stack text and folded
// lines, the report at every ending, --json, and one-line errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sleeper, buildSleeper } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, errorLine, expectCleanExit, expectHelp, tool, type Cli } from '../../../test/support/cli.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url));
let bin: string;

beforeAll(() => {
  bin = buildSleeper();
});

afterAll(async () => {
  await Sleeper.stopAll();
});

const banner = (pid: number, stacks = 'user + kernel', secs?: number) =>
  `Tracing off-CPU time (us) of PID ${pid} by ${stacks} stack${secs ? ` for ${secs} secs.` : '... Hit Ctrl-C to end.'}`;

/** A sleeper and the CLI tracing it (ready: its banner, or attached when there is none). */
async function traced(args: (s: Sleeper) => string[], ready?: string | ((s: Sleeper) => string)): Promise<{ s: Sleeper; cli: Cli }> {
  const s = await Sleeper.start(bin);
  const argv = args(s);
  const r = typeof ready === 'function' ? ready(s) : ready;
  const cli = await CLI.start(argv, r ?? { links: 1 });
  return { s, cli };
}

/** BCC's text report parsed back: each stack's frame lines, thread line and total. */
function parseStacks(out: string): Array<{ frames: string[]; thread: string; us: number }> {
  const blocks = out.split('\n\n').filter((b) => b.includes('\n    -  '));
  return blocks.map((b) => {
    const lines = b.split('\n').filter((l) => l.startsWith('    '));
    const t = lines.findIndex((l) => l.startsWith('    -    '));
    return { frames: lines.slice(0, t), thread: lines[t]!, us: Number(lines[t + 1]!.trim()) };
  });
}

describe('the report', () => {
  it('SIGINT: the banner, a blank line, then each stack as BCC prints it, with its total in microseconds', async () => {
    const { s, cli } = await traced((s) => ['-p', String(s.pid)], (s) => banner(s.pid));
    const wall = await s.sleep(10, 50);
    const e = await cli.stop('SIGINT');
    expectCleanExit(e);
    const lines = e.stdout.split('\n');
    expect(lines[0]).toBe(banner(s.pid));
    expect(lines[1]).toBe('');
    const mine = parseStacks(e.stdout).filter((x) => x.frames.includes('    offcputime_test_sleep'));
    expect(mine).not.toEqual([]);
    const total = mine.reduce((t, x) => t + x.us, 0);
    expect(total).toBeGreaterThanOrEqual(499_000);
    expect(total).toBeLessThanOrEqual(wall * 1000);
    const big = mine.sort((a, b) => b.us - a.us)[0]!;
    expect(big.thread).toBe(`    -                sleeper (${s.pid})`);
    // Kernel frames first (the scheduler innermost), then user frames, bare names.
    expect(big.frames.indexOf('    schedule')).toBeGreaterThanOrEqual(0);
    expect(big.frames.indexOf('    schedule')).toBeLessThan(big.frames.indexOf('    offcputime_test_sleep'));
    expect(big.frames[big.frames.indexOf('    offcputime_test_sleep') + 1]).toBe('    main');
    for (const f of big.frames) expect(f).toMatch(/^    (\S.*|\[unknown\])$/);
    expect(big.frames.join('\n')).not.toMatch(/bpf_prog_|\+0x/);
    expect(e.stdout.endsWith('\n\n')).toBe(true);
  });

  it('duration: ends by itself with the report; -d puts "--" between the kernel and the user stack', async () => {
    const { s, cli } = await traced((s) => ['-d', '-p', String(s.pid), '2'], (s) => banner(s.pid, 'user + kernel', 2));
    await s.sleep(2, 30);
    const e = await cli.exited;
    expectCleanExit(e);
    const st = parseStacks(e.stdout).find((x) => x.frames.includes('    offcputime_test_sleep'))!;
    const d = st.frames.indexOf('    --');
    expect(d).toBeGreaterThan(0);
    expect(st.frames.slice(0, d)).toContain('    schedule');
    expect(st.frames.slice(d)).toContain('    offcputime_test_sleep');
  });

  it('-f: folded lines, comm first, outermost frame first, user before kernel; no banner', async () => {
    const { s, cli } = await traced((s) => ['-f', '-d', '-p', String(s.pid)]);
    await s.sleep(3, 20);
    const e = await cli.stop('SIGINT');
    expectCleanExit(e);
    const lines = e.stdout.split('\n').slice(0, -1);
    for (const l of lines) expect(l).toMatch(/^sleeper(-bg)?;.* \d+$/);
    const mine = lines.find((l) => l.includes(';main;offcputime_test_sleep;'))!;
    expect(mine).toBeDefined();
    const frames = mine.slice(0, mine.lastIndexOf(' ')).split(';');
    const dash = frames.indexOf('-');
    expect(dash).toBeGreaterThan(frames.indexOf('offcputime_test_sleep'));
    expect(frames.at(-1)).not.toBe('schedule'); // innermost last: __schedule below schedule
    expect(frames.slice(dash)).toContain('schedule');
    expect(Number(mine.slice(mine.lastIndexOf(' ') + 1))).toBeGreaterThanOrEqual(59_000);
  });

  it('-U and -K: one kind of stack, and the banner says which', async () => {
    const u = await traced((s) => ['-U', '-p', String(s.pid)], (s) => banner(s.pid, 'user'));
    const k = await traced((s) => ['-K', '-p', String(s.pid)], (s) => banner(s.pid, 'kernel'));
    await Promise.all([u.s.sleep(2, 20), k.s.sleep(2, 20)]);
    const [eu, ek] = [await u.cli.stop(), await k.cli.stop()];
    expectCleanExit(eu);
    expectCleanExit(ek);
    const su = parseStacks(eu.stdout).find((x) => x.frames.includes('    offcputime_test_sleep'))!;
    expect(su.frames).not.toContain('    schedule');
    const sk = parseStacks(ek.stdout);
    expect(sk.length).toBeGreaterThan(0);
    for (const x of sk) expect(x.frames).not.toContain('    main');
    expect(sk.some((x) => x.frames.includes('    schedule'))).toBe(true);
  });

  it('--json: one object for the report, totals in µs and ns, frames as objects', async () => {
    const { s, cli } = await traced((s) => ['--json', '-p', String(s.pid)]);
    const wall = await s.sleep(4, 25);
    const e = await cli.stop('SIGTERM');
    expectCleanExit(e);
    const lines = e.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const r = expectJsonLine(lines[0]!) as any;
    expect(r).toMatchObject({ type: 'report', missedStacks: 0, dropped: 0 });
    const mine = r.stacks.filter((x: any) => x.userFrames?.some((f: any) => f.name === 'offcputime_test_sleep'));
    const us = mine.reduce((t: number, x: any) => t + Math.floor(x.totalNs / 1000), 0);
    expect(us).toBeGreaterThanOrEqual(99_000);
    expect(us).toBeLessThanOrEqual(wall * 1000);
    expect(mine[0]).toMatchObject({ pid: s.pid, tgid: s.pid, comm: 'sleeper', kernelMissed: false, userMissed: false });
    expect(mine[0].userFrames.find((f: any) => f.name === 'main')).toMatchObject({ module: 'sleeper' });
    expect(mine[0].userFrames[0].address).toMatch(/^\d+$/); // 64 bits: a decimal string
    expect(mine[0].userStackId).toMatch(/^\d+$/);
  });

  it('missed stacks: BCC\'s warning on stderr after the report, and the placeholders', async () => {
    const { s, cli } = await traced((s) => ['--stack-storage-size', '1', '-p', String(s.pid)], (s) => banner(s.pid));
    await s.sleep(2, 20);
    const e = await cli.stop();
    expect([e.code, e.signal]).toEqual([0, null]);
    expect(e.stderr).toMatch(/^WARNING: \d+ stack traces lost and could not be displayed\. Consider increasing --stack-storage-size\.\n$/);
    expect(e.stdout).toMatch(/^    \[Missed (Kernel|User) Stack\]$/m);
  });
});

describe('usage', () => {
  it('bad input: one line on stderr, exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['-p', 'abc'], /^offcputime: invalid -p value 'abc'/],
      [['-p', '1', '-t', '1'], /^offcputime: option '-p, --pid <PID>' cannot be used with option '-t, --tid <TID>'$/],
      [['-u', '-k'], /cannot be used with/],
      [['-U', '-K'], /cannot be used with/],
      [['-k', '-U'], /^offcputime: Displaying user stacks for kernel threads doesn't make sense\.$/],
      [['-m', '0'], /^offcputime: invalid -m value '0'/],
      [['-m', '10', '-M', '5'], /above the maximum/],
      [['--state', 'x'], /^offcputime: invalid --state value 'x'/],
      [['--stack-storage-size', '0'], /invalid --stack-storage-size value '0'/],
      [['0'], /^offcputime: invalid duration value '0'/],
      [['1', '2'], /too many arguments/],
      [['--bogus'], /^offcputime: unknown option '--bogus'$/],
    ];
    for (const [args, msg] of cases) expect(errorLine(await CLI.run(args), 2, args.join(' '))).toMatch(msg);
  });

  it('not root: one line, exit 1', async () => {
    expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^offcputime: .*root/);
  });

  it('--help: BCC\'s flags', async () => {
    expectHelp(await CLI.run(['--help']), 'Usage: offcputime [options] [duration]', [
      '-p, --pid <PID>',
      '-t, --tid <TID>',
      '-u, --user-threads-only',
      '-k, --kernel-threads-only',
      '-U, --user-stacks-only',
      '-K, --kernel-stacks-only',
      '-d, --delimited',
      '-f, --folded',
      '--stack-storage-size <STACK_STORAGE_SIZE>',
      '-m, --min-block-time <MIN_BLOCK_TIME>',
      '-M, --max-block-time <MAX_BLOCK_TIME>',
      '--state <STATE>',
      '--json',
    ]);
  });
});
