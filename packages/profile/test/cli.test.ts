// The profile CLI as users run it: BCC's banner and stack text, folded
// lines, --json, a flame graph page rendered by a real browser, and
// one-line errors.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOT_C, HOT_JS, buildSpinner, cpuTicks, startNode, startSpinner } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { errorLine, tool, type Exit } from '../../../test/support/cli.js';
import { dumpDom, screenshot } from '../../../test/support/browser.js';
import { tempDir } from '../../../test/support/tmp.js';
import { until } from '../../../test/support/wait.js';
import { killChildren } from '../../../test/support/workload.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url));
let bin: string;
beforeAll(() => {
  bin = buildSpinner();
});
afterAll(killChildren);

/**
 * A clean end: status 0, no stack trace, and on stderr nothing but BCC's
 * warning for stacks the stack map had no room for (on a busy shared
 * machine, system-wide; reported, never silent).
 */
function expectDone(e: Exit): void {
  expect([e.code, e.signal]).toEqual([0, null]);
  for (const l of e.stderr.split('\n').filter(Boolean)) expect(l).toMatch(/^WARNING: \d+ stack traces could not be displayed\.( Consider increasing --stack-storage-size\.)?$/);
}

const banner = (pid: number, stacks = 'user + kernel') => `Sampling at 199 Hertz of PID ${pid} by ${stacks} stack... Hit Ctrl-C to end.`;

/** Runs the CLI on `pid` until the process has used `ticks` more CPU ticks (1/100 s) after the CLI attached, then SIGINT. */
async function profileWhile(pid: number, args: string[], ticks = 30, ready: string | { links: number } = banner(pid)) {
  const cli = await CLI.start(['-F', '199', '-p', String(pid), ...args], ready);
  const t0 = cpuTicks(pid);
  await until(() => cpuTicks(pid) - t0 >= ticks, `${ticks} CPU ticks of ${pid}`);
  return cli.stop('SIGINT');
}

describe('output', () => {
  it("BCC's text: kernel frames, then user frames innermost first, the process line and its samples", async () => {
    const c = await startSpinner(bin);
    const e = await profileWhile(c.pid, []);
    expectDone(e);
    expect(e.stdout.split('\n')[0]).toBe(banner(c.pid));
    const blocks = e.stdout.split('\n\n').filter((b) => b.includes(`    ${HOT_C}\n`));
    expect(blocks).not.toEqual([]);
    const counts = blocks.map((b) => {
      const l = b.split('\n').filter((x) => x.startsWith('    '));
      expect(l.at(-2)).toBe(`    -                spinner (${c.pid})`);
      expect(l.at(-1)).toMatch(/^        \d+$/);
      return Number(l.at(-1));
    });
    // 0.3 s of CPU at 199 Hz: tens of samples (a bound that cannot be met by accident).
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10);
  });

  it('-f -U: folded lines, comm first and the hot function last; -d and -a are accepted', async () => {
    const c = await startSpinner(bin);
    const e = await profileWhile(c.pid, ['-f', '-U', '-d', '-a'], 30, { links: 2 });
    expectDone(e);
    const mine = e.stdout.split('\n').filter((l) => l.startsWith('spinner;') && l.includes(`;main;${HOT_C} `));
    expect(mine).not.toEqual([]);
    for (const l of mine) expect(l).toMatch(new RegExp(`^spinner;(\\S+;)*main;${HOT_C} \\d+$`));
  });

  it('--json: one report object with the stacks', async () => {
    const c = await startSpinner(bin);
    const e = await profileWhile(c.pid, ['--json'], 30, { links: 2 });
    expectDone(e);
    const r = expectJsonLine(e.stdout, { keyed: ['unnamed'] }) as any;
    expect(r.type).toBe('report');
    expect(r.startNs).toMatch(/^\d+$/);
    const mine = r.stacks.filter((s: { userFrames?: Array<{ name?: string }> }) => s.userFrames?.[0]?.name === HOT_C);
    expect(mine[0]?.userFrames[0].address).toMatch(/^\d+$/); // 64 bits: a decimal string
    expect(mine.length).toBeGreaterThan(0);
    expect(mine[0]).toMatchObject({ pid: c.pid, comm: 'spinner', userMissed: false });
    expect(r.samples).toBeGreaterThanOrEqual(mine.reduce((t: number, s: { count: number }) => t + s.count, 0));
  });
});

describe('stripped binaries', () => {
  it('a note names the file whose frames have no symbols', async () => {
    const stripped = join(tempDir().dir, 'spinstrip');
    copyFileSync(bin, stripped);
    execFileSync('strip', [stripped]);
    const c = await startSpinner(stripped);
    const e = await profileWhile(c.pid, ['-f', '-U'], 30, { links: 2 });
    expect([e.code, e.signal]).toEqual([0, null]);
    expect(e.stdout).toMatch(/^spinstrip;(\S+;)*\[unknown\] \d+$/m);
    expect(e.stderr).toMatch(/^NOTE: \d+ samples ran through spinstrip where no symbol covers them \(stripped, no debug file found\): those frames print \[unknown\]\.$/m);
  });
});

describe('MiniDebugInfo', () => {
  it('a stripped binary with .gnu_debugdata (xz-compressed .symtab) has its functions named', async () => {
    const dir = tempDir().dir;
    const sp = join(dir, 'spinmini');
    copyFileSync(bin, sp);
    // As Fedora builds it: the function symbols in a stripped debug file, xz-compressed, added back as .gnu_debugdata.
    const funcs = execFileSync('nm', ['--format=posix', '--defined-only', sp], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /^\S+ [Tt] /.test(l))
      .map((l) => l.split(' ')[0])
      .join('\n');
    writeFileSync(join(dir, 'funcs'), funcs + '\n');
    execFileSync('objcopy', ['--only-keep-debug', sp, join(dir, 'full.debug')]);
    execFileSync('objcopy', ['-S', '--remove-section', '.comment', `--keep-symbols=${join(dir, 'funcs')}`, join(dir, 'full.debug'), join(dir, 'mini.debug')]);
    execFileSync('xz', [join(dir, 'mini.debug')]);
    execFileSync('strip', ['--strip-all', sp]);
    execFileSync('objcopy', ['--add-section', `.gnu_debugdata=${join(dir, 'mini.debug.xz')}`, sp]);
    expect(execFileSync('nm', [sp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).includes(HOT_C)).toBe(false);
    const c = await startSpinner(sp);
    const e = await profileWhile(c.pid, ['-f', '-U'], 30, { links: 2 });
    expectDone(e);
    expect(e.stdout).toMatch(new RegExp(`^spinmini;(\\S+;)*main;${HOT_C} \\d+$`, 'm'));
  });
});

describe('--flamegraph', () => {
  it("an HTML page a browser renders: the Node app's JavaScript function named, search finds it, a screenshot", async () => {
    const n = await startNode();
    const dir = tempDir().dir;
    const html = join(dir, 'profile.html');
    const e = await profileWhile(n.pid, ['--flamegraph', html, '-f'], 50, { links: 2 });
    expectDone(e);
    const page = readFileSync(html, 'utf8');
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(page).not.toMatch(/<script[^>]+src=|<link|https?:\/\/(?!www\.w3\.org)/); // self-contained
    // The same stacks as -f: every folded line's leaf is in the page.
    const leaves = new Set(e.stdout.trim().split('\n').map((l) => l.replace(/ \d+$/, '').split(';').at(-1)!));
    const dom = await dumpDom(`file://${html}?s=${HOT_JS}`);
    for (const leaf of [...leaves].slice(0, 20)) expect(dom).toContain(leaf.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    expect(dom).toContain(HOT_JS);
    // The page's script ran: the search from ?s= matched the hot function's samples.
    const m = /Matched: ([\d.]+)% \((\d+) samples\)/.exec(dom);
    expect(m, 'search result').not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(0);
    const shot = await screenshot(`file://${html}`);
    expect(shot.bytes).toBeGreaterThan(1000);
    expect(readFileSync(shot.path).subarray(1, 4).toString()).toBe('PNG');
  }, 90_000); // two browser runs

  it('.svg: a standalone SVG document', async () => {
    const c = await startSpinner(bin);
    const svg = join(tempDir().dir, 'p.svg');
    expectDone(await profileWhile(c.pid, ['--flamegraph', svg], 20));
    const text = readFileSync(svg, 'utf8');
    expect(text).toMatch(/^<\?xml[^>]*>\n<svg /);
    expect(text).toContain(`<title>${HOT_C} (`);
  });
});

describe('errors: one line, exit 2', () => {
  it.each([
    [['--flamegraph', '/tmp/x.txt'], /must end in \.svg or \.html/],
    [['--flamegraph', '/nonexistent-dir/x.html'], /cannot write the flame graph/],
    [['-F', '0'], /-F/],
    [['-F', '99', '-c', '1000'], /cannot be used with|exclude/],
    [['-p', '1', '-L', '1'], /cannot be used with|exclude/],
    [['-C', '4095'], /CPU/],
  ])('%j', async (args, msg) => {
    expect(errorLine(await CLI.run(args as string[]), 2)).toMatch(msg as RegExp);
  });
});
