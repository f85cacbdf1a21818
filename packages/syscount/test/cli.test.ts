// The syscount CLI as users run it: BCC's output for a workload making known
// system calls, filtered by its PID; --json; errors; every ending.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, errorLine, expectCleanExit, expectHelp, throughHead, tool } from '../../../test/support/cli.js';
import { compileC, killChildren, start, type Child } from '../../../test/support/workload.js';

const BANNER = 'Tracing syscalls, printing top 10... Ctrl+C to quit.';
const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: (out) => out.includes('... Ctrl+C to quit.\n') });

let bin: string;

beforeAll(() => {
  bin = compileC(new URL('./c/sysloop.c', import.meta.url));
});

afterAll(() => killChildren());

async function workload(): Promise<Child> {
  const w = start(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  await w.expectNext('ready');
  return w;
}

/** Runs syscount `args` on the workload while it runs `commands`; stopped by SIGINT. */
async function traced(args: (w: Child) => string[], commands: string[], ready?: { links: number }) {
  const w = await workload();
  const cli = await CLI.start(args(w), ready);
  for (const c of commands) expect(await w.request(c)).toBe('done');
  const e = await cli.stop('SIGINT');
  await w.stop();
  return { w, e, lines: e.stdout.split('\n') };
}

describe('output', () => {
  it("default: BCC's banner, [HH:MM:SS], SYSCALL COUNT columns, Detaching...", async () => {
    const { e, lines } = await traced((w) => ['-p', String(w.pid)], ['getppid 1234', 'enoent 77']);
    expectCleanExit(e);
    expect(lines[0]).toBe(BANNER);
    expect(lines[1]).toMatch(/^\[\d\d:\d\d:\d\d\]$/);
    expect(lines[2]).toBe('SYSCALL                   COUNT');
    expect(lines[3]).toBe('getppid                    1234');
    expect(lines).toContain('openat                       77');
    expect(lines.slice(-3)).toEqual(['', 'Detaching...', '']);
  });

  it('-L -m: TIME (ms) with six decimals; -T limits the rows', async () => {
    const { e, lines } = await traced((w) => ['-p', String(w.pid), '-L', '-m', '-T', '1'], ['getppid 10', 'sleep 2 30']);
    expectCleanExit(e);
    expect(lines[2]).toBe('SYSCALL                   COUNT        TIME (ms)');
    expect(lines[3], lines.join('\n')).toMatch(/^nanosleep {21}2 +\d+\.\d{6}$/);
    expect(Number(lines[3]!.split(/ +/)[2])).toBeGreaterThanOrEqual(60);
    expect(lines[4]).toBe('');
  });

  it('-P -x: PID COMM per process, failed calls only', async () => {
    const { w, e, lines } = await traced((w) => ['-p', String(w.pid), '-P', '-x'], ['getppid 50', 'enoent 7', 'ebadf 5']);
    expectCleanExit(e);
    expect(lines[0]).toBe('Tracing failed syscalls, printing top 10... Ctrl+C to quit.');
    expect(lines[2]).toBe('PID    COMM               COUNT');
    expect(lines[3]).toBe(`${String(w.pid).padEnd(6)} ${'sysloop'.padEnd(15)} ${'12'.padStart(8)}`);
  });

  it('--json -e ENOENT: one object per row', async () => {
    const { e, lines } = await traced((w) => ['-p', String(w.pid), '--json', '-e', 'ENOENT', '-L'], ['enoent 9', 'ebadf 3'], { links: 2 });
    expectCleanExit(e);
    const rows = lines.filter(Boolean).map((l) => expectJsonLine(l) as any);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'openat', nr: 257, count: 9 });
    expect(Object.keys(rows[0]).sort()).toEqual(['count', 'elapsed', 'name', 'nr', 'time', 'totalNs']);
    expect(rows[0].totalNs).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(rows[0].time))).toBe(false);
  });

  it('-d: ends by itself, with the summary and Detaching...', async () => {
    const e = await CLI.run(['-d', '1', '--syscall', 'getppid']);
    expectCleanExit(e);
    expect(e.stdout).toMatch(/^Tracing syscalls.*\n\[\d\d:\d\d:\d\d\]\nSYSCALL {19}COUNT\n(getppid +\d+\n)?\nDetaching...\n$/);
  });

  it('-i: a summary per interval, each with its own calls', async () => {
    const w = await workload();
    const cli = await CLI.start(['-p', String(w.pid), '-i', '1']);
    expect(await w.request('getppid 321')).toBe('done');
    await cli.waitOutput((out) => out.includes('getppid                     321\n'));
    const e = await cli.stop('SIGINT');
    await w.stop();
    expectCleanExit(e);
    expect(e.stdout.match(/getppid +\d+/g)).toEqual(['getppid                     321']);
    expect(e.stdout.endsWith('Detaching...\n')).toBe(true);
  });

  it('tracefs not mounted (in a mount namespace of its own): mounted, and counting works', async () => {
    const unmounted = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'umount /sys/kernel/tracing && ! test -e /sys/kernel/tracing/events && exec "$@"', 'sh'];
    const e = await CLI.run(['-d', '1', '--syscall', 'getppid'], { wrap: unmounted });
    expectCleanExit(e);
    expect(e.stdout).toMatch(/SYSCALL {19}COUNT\n(getppid +\d+\n)?\nDetaching...\n$/);
  });

  it("-l: this build's syscall table", async () => {
    const e = await CLI.run(['-l']);
    expectCleanExit(e);
    expect(e.stdout).toContain(' 110 getppid\n');
    expect(e.stdout).toContain(' 257 openat\n');
  });

  it('--help lists the flags', async () => {
    expectHelp(await CLI.run(['--help']), 'Usage: syscount', ['-p, --pid <PID>', '-t, --tid <TID>', '-x, --failures', '-e, --errno <ERRNO>', '-L, --latency', '-P, --process', '-T, --top <TOP>', '--syscall <SYSCALL>', '--json']);
  });
});

describe('endings', () => {
  it('SIGTERM: the summary and Detaching..., exit 0', async () => {
    const w = await workload();
    const cli = await CLI.start(['-p', String(w.pid)]);
    expect(await w.request('getppid 43')).toBe('done');
    const t = await cli.stop('SIGTERM');
    await w.stop();
    expectCleanExit(t);
    expect(t.stdout).toContain('getppid                      43\n');
    expect(t.stdout.endsWith('\nDetaching...\n')).toBe(true);
  });

  it('a closed pipe (| head) ends it, exit 0', async () => {
    const r = await throughHead(CLI.path, ['-i', '1'], () => {}, { lines: 2 });
    expect(r.ended).toBe(true);
    expect(r.status).toEqual([0, null]);
    expect(r.out).toMatch(/^Tracing syscalls.*\n\[\d\d:\d\d:\d\d\]\n$/);
    expect(r.stderr).toBe('');
  });
});

describe('errors: one line, no stack trace', () => {
  it.each([
    [['-e', 'EFOO'], /unknown errno 'EFOO'/],
    [['--syscall', 'nosuch'], /unknown syscall 'nosuch'/],
    [['-T', '0'], /-T/],
    [['-p', 'abc'], /-p/],
    [['-p', '1', '-t', '1'], /mutually exclusive/],
  ])('%j: exit 2', async (args, msg) => {
    expect(errorLine(await CLI.run(args), 2)).toMatch(msg);
  });

  it('not root: exit 1', async () => {
    expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/root/);
  });
});
