// The execsnoop CLI as users run it: a child process, output into a pipe,
// stopped by a signal. Rows are matched by PID and unique markers (the
// machine may be running other workloads at the same time).
import { describe, it, expect } from 'vitest';
import { echoEvent, runMissing } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, errorLine, expectCleanExit, expectHelp, throughHead, tool } from '../../../test/support/cli.js';
import { uniq } from '../../../test/support/tmp.js';
import { run, threadComm } from '../../../test/support/workload.js';

const HEADER = 'PCOMM            PID     PPID    RET ARGS';
const HEADER_TTU = 'TIME     TIME(s) UID   PCOMM            PID     PPID    RET ARGS';
const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: HEADER, pidColumn: 17 });

/** BCC's row: "%-16s %-7d %-7s %3d %s" (widths in bytes). */
function bccRow(comm: string, pid: number, ppid: number, ret: number, args: string): string {
  const padBytes = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - Buffer.byteLength(s)));
  return `${padBytes(comm, 16)} ${padBytes(String(pid), 7)} ${padBytes(String(ppid), 7)} ${String(ret).padStart(3)} ${args}`;
}

/** Every row's columns start where the header's do (byte offsets: widths are in bytes). */
function expectAligned(header: string, rows: string[]): void {
  const col = (name: string) => header.indexOf(` ${name}`) + 1;
  const pid = col('PID');
  const ppid = col('PPID');
  const ret = col('RET');
  const args = col('ARGS');
  expect([ppid - pid, ret - ppid, args - ret, header.endsWith(' ARGS')]).toEqual([8, 8, 4, true]);
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) {
    const b = Buffer.from(row);
    const at = (from: number, to?: number) => b.subarray(from, to).toString();
    expect(at(pid - 1), row).toMatch(/^ \d+ +\d+ +-?\d+ /);
    expect(at(ppid - 1), row).toMatch(/^ \d+ +-?\d+ /);
    expect(at(pid, ppid), row).toMatch(/^\d+ +$/);
    expect(at(ppid, ret), row).toMatch(/^\d+ +$/);
    expect(at(ret, args), row).toMatch(/^ *-?\d+ $/);
  }
}

describe('output format', () => {
  it('default header, and a row exactly as BCC prints it', async () => {
    const cli = await CLI.start([]);
    const m = uniq();
    const r = await run('/bin/echo', ['hello world', m]);
    const missing = `/nonexistent-dir/${uniq()}`;
    await runMissing(missing, []); // failed: not shown without -x
    const row = await cli.row(r.pid);
    expect(row).toBe(bccRow('echo', r.pid, process.pid, 0, `/bin/echo hello world ${m}`));
    await run('/bin/true', [uniq()]); // a later event: the failed one would be printed by now
    const e = await cli.stop('SIGINT');
    expectCleanExit(e);
    expect(e.stdout.split('\n')[0]).toBe(HEADER);
    expect(e.stdout).not.toContain(missing);
    expect(e.stdout.endsWith('\n')).toBe(true);
    expectAligned(HEADER, cli.lines().slice(1));
  });

  it('-T -t -U: header exactly as BCC, and the columns line up', async () => {
    const t0 = Date.now();
    const cli = await CLI.start(['-T', '-t', '-U'], HEADER_TTU);
    const m = uniq();
    const r = await run('/bin/echo', [m]);
    const row = await cli.row(r.pid, 40);
    const elapsed = (Date.now() - t0) / 1000;
    expect(row.slice(0, 9)).toMatch(/^\d\d:\d\d:\d\d $/);
    expect(row.slice(9, 17)).toMatch(/^\d+\.\d{3} *$/);
    const ts = Number(row.slice(9, 17));
    expect(ts).toBeGreaterThanOrEqual(0);
    expect(ts).toBeLessThanOrEqual(elapsed);
    expect(row.slice(17)).toBe(`${'0'.padEnd(6)}${bccRow('echo', r.pid, process.pid, 0, `/bin/echo ${m}`)}`);
    const e = await cli.stop();
    expectCleanExit(e);
    const rows = cli.lines().slice(1);
    expectAligned(HEADER_TTU, rows);
    for (const l of rows) {
      const b = Buffer.from(l);
      expect(b.subarray(0, 9).toString(), l).toMatch(/^\d\d:\d\d:\d\d $/);
      expect(b.subarray(9, 17).toString(), l).toMatch(/^\d+\.\d{3} *$/);
      expect(b.subarray(17, 23).toString(), l).toMatch(/^\d+ +$/);
    }
  });

  it('-q quotes every argument and escapes ", newlines and tabs print as \\n and \\t', async () => {
    const cli = await CLI.start(['-q']);
    const m = uniq();
    const r1 = await run('/bin/echo', ['a b', 'q"uote', '', m]);
    const r2 = await run('/bin/echo', ['x\ny', 'tab\there', m]);
    expect(await cli.row(r1.pid)).toBe(bccRow('echo', r1.pid, process.pid, 0, `"/bin/echo" "a b" "q\\"uote" "" "${m}"`));
    expect(await cli.row(r2.pid)).toBe(bccRow('echo', r2.pid, process.pid, 0, `"/bin/echo" "x\\ny" "tab\\there" "${m}"`));
    expectCleanExit(await cli.stop());
    // every event is one line: no raw newline from an argument
    for (const l of cli.lines().slice(1)) expect(l).toMatch(/^\S.{15} \d/);
  });

  it('without -q: arguments space-joined, a newline printed as the two characters \\n', async () => {
    const cli = await CLI.start([]);
    const m = uniq();
    const r = await run('/bin/echo', ['x\ny', 'q"uote', m]);
    expect(await cli.row(r.pid)).toBe(bccRow('echo', r.pid, process.pid, 0, `/bin/echo x\\ny q"uote ${m}`));
    expectCleanExit(await cli.stop());
  });

  it('--max-args: filename counts as one field, then "..." ("..." quoted with -q, as BCC)', async () => {
    const cli3 = await CLI.start(['--max-args', '3']);
    const cli3q = await CLI.start(['--max-args', '3', '-q']);
    const cliDefault = await CLI.start([]);
    const r1 = await run('/bin/echo', ['a1', 'a2', 'a3', uniq()]);
    const r2 = await run('/bin/echo', ['a1', 'a2']); // exactly 3 fields: no marker
    const a19 = Array.from({ length: 19 }, (_, i) => `a${i + 1}`);
    const r19 = await run('/bin/echo', a19);
    const r20 = await run('/bin/echo', [...a19, 'a20']);
    const big = 'b'.repeat(100_000);
    const rBig = await run('/bin/echo', [big], { stdio: 'ignore' });

    expect(await cli3.row(r1.pid)).toBe(bccRow('echo', r1.pid, process.pid, 0, '/bin/echo a1 a2 ...'));
    expect(await cli3.row(r2.pid)).toBe(bccRow('echo', r2.pid, process.pid, 0, '/bin/echo a1 a2'));
    expect(await cli3q.row(r1.pid)).toBe(bccRow('echo', r1.pid, process.pid, 0, '"/bin/echo" "a1" "a2" "..."'));
    expect(await cli3q.row(r2.pid)).toBe(bccRow('echo', r2.pid, process.pid, 0, '"/bin/echo" "a1" "a2"'));
    // default 20 fields: 19 arguments are all shown, without BCC's false "..."
    expect(await cliDefault.row(r19.pid)).toBe(bccRow('echo', r19.pid, process.pid, 0, `/bin/echo ${a19.join(' ')}`));
    expect(await cliDefault.row(r20.pid)).toBe(bccRow('echo', r20.pid, process.pid, 0, `/bin/echo ${a19.join(' ')} ...`));
    // arguments cut at the 32 KiB capture limit are marked too
    expect(await cliDefault.row(rBig.pid)).toBe(
      bccRow('echo', rBig.pid, process.pid, 0, `/bin/echo ${big.slice(0, 32768 - 10)} ...`),
    );
    for (const c of [cli3, cli3q, cliDefault]) expectCleanExit(await c.stop());
  });

  it('--json: one object per line, exact arguments', async () => {
    const cli = CLI.spawn(['--json']);
    // No header in JSON mode: run a probe workload until it shows up.
    const probe = uniq('probe');
    await cli.waitProbe(async () => {
      await run('/bin/true', [probe]);
      return probe;
    });
    const args = ['a b', 'q"uote', '', 'new\nline', 'tab\t', 'héllo ✓', 'back\\slash', uniq()];
    const t0 = Date.now();
    const r = await run('/bin/echo', args);
    const line = await cli.line(args.at(-1)!);
    const ev = expectJsonLine(line);
    const want = echoEvent(r.pid, args);
    expect(ev).toEqual({ time: ev.time, elapsed: ev.elapsed, timestamp: ev.timestamp, ...want, cgroupId: String(want.cgroupId) }); // 64-bit: a decimal string
    expect(Math.abs(Date.parse(ev.time as string) - t0)).toBeLessThan(5000);
    expect(ev.elapsed).toBeGreaterThan(0);
    const e = await cli.stop();
    expectCleanExit(e);
    for (const l of cli.lines()) expect(() => JSON.parse(l), l).not.toThrow();
  });
});

describe('filters', () => {
  const nobody = { uid: 65534, gid: 65534, cwd: '/' };

  it('-x shows failed execs with RET -2 and the caller\'s comm', async () => {
    const cli = await CLI.start(['-x']);
    const missing = `/nonexistent-dir/${uniq()}`;
    await runMissing(missing, ['a b']);
    const row = await cli.line(missing);
    const pid = Number(row.slice(17, 24));
    expect(pid).toBeGreaterThan(0);
    expect(row).toBe(bccRow(threadComm(), pid, process.pid, -2, `${missing} a b`));
    expectCleanExit(await cli.stop());
  });

  it('-u 0 and -u root trace only root (BCC ignores them); -u nobody only that user', async () => {
    const byUid = await CLI.start(['-u', '0', '-U'], `UID   ${HEADER}`);
    const byRoot = await CLI.start(['-u', 'root', '-U'], `UID   ${HEADER}`);
    const byName = await CLI.start(['-u', 'nobody', '-U'], `UID   ${HEADER}`);
    const mN = uniq('nobody');
    const mR = uniq('root');
    const rn = await run('/bin/echo', [mN], nobody);
    const rr = await run('/bin/echo', [mR]);
    expect(await byUid.line(mR)).toBe(`0     ${bccRow('echo', rr.pid, process.pid, 0, `/bin/echo ${mR}`)}`);
    expect(await byRoot.line(mR)).toBe(`0     ${bccRow('echo', rr.pid, process.pid, 0, `/bin/echo ${mR}`)}`);
    expect(await byName.line(mN)).toBe(`65534 ${bccRow('echo', rn.pid, process.pid, 0, `/bin/echo ${mN}`)}`);
    const results = await Promise.all([byUid.stop(), byRoot.stop(), byName.stop()]);
    results.forEach(expectCleanExit);
    const [u0, uRoot, uNobody] = results.map((e) => e.stdout.split('\n').filter(Boolean).slice(1));
    for (const rows of [u0!, uRoot!]) {
      expect(rows.join('\n')).not.toContain(mN);
      for (const l of rows) expect(l.startsWith('0     '), l).toBe(true);
    }
    expect(uNobody!.join('\n')).not.toContain(mR);
    for (const l of uNobody!) expect(l.startsWith('65534 '), l).toBe(true);
  });

  it('-P shows only children of that parent', async () => {
    const cli = await CLI.start(['-P', String(process.pid)]);
    const mGrand = uniq('grandchild');
    const mChild = uniq('child');
    const sh = await run('/bin/sh', ['-c', `/bin/echo ${mGrand}; exit 0`]);
    const r = await run('/bin/echo', [mChild]);
    expect(await cli.row(r.pid)).toBe(bccRow('echo', r.pid, process.pid, 0, `/bin/echo ${mChild}`));
    expect(await cli.row(sh.pid)).toBe(bccRow('sh', sh.pid, process.pid, 0, `/bin/sh -c /bin/echo ${mGrand}; exit 0`));
    const e = await cli.stop();
    expectCleanExit(e);
    expect(e.stdout.split('\n').filter((l) => l.includes(mGrand))).toHaveLength(1); // sh's row, not echo's
    for (const l of cli.lines().slice(1)) expect(l.slice(25, 33), l).toBe(String(process.pid).padEnd(7) + ' ');
  });

  it('-n matches comm, -l the command line (regexes)', async () => {
    const byName = await CLI.start(['-n', '^ec.o$']);
    const m = uniq('line');
    const byLine = await CLI.start(['-l', `^/bin/echo pre ${m}$`]);
    const rt = await run('/bin/true', [m]);
    const rOther = await run('/bin/echo', [m]);
    const rEcho = await run('/bin/echo', ['pre', m]);
    expect(await byName.row(rEcho.pid)).toBe(bccRow('echo', rEcho.pid, process.pid, 0, `/bin/echo pre ${m}`));
    expect(await byLine.row(rEcho.pid)).toBe(bccRow('echo', rEcho.pid, process.pid, 0, `/bin/echo pre ${m}`));
    const [n, l] = await Promise.all([byName.stop(), byLine.stop()]);
    expectCleanExit(n);
    expectCleanExit(l);
    const nRows = n.stdout.split('\n').filter(Boolean).slice(1);
    expect(nRows.some((r) => r.includes(`/bin/echo ${m}`))).toBe(true); // rOther: comm echo
    expect(nRows.filter((r) => r.includes(m))).toHaveLength(2);
    for (const r of nRows) expect(r.slice(0, 17), r).toBe('echo             ');
    expect(nRows.filter((r) => r.slice(17).startsWith(`${rt.pid} `))).toEqual([]);
    expect(l.stdout.split('\n').filter(Boolean).slice(1)).toEqual([
      bccRow('echo', rEcho.pid, process.pid, 0, `/bin/echo pre ${m}`),
    ]);
    expect(rOther.code).toBe(0);
  });
});

describe('ending the run', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: every event before the signal is printed (piped output is flushed)`, async () => {
      const cli = await CLI.start([]);
      const m = uniq();
      const pids: number[] = [];
      for (let i = 0; i < 40; i++) pids.push((await run('/bin/true', [m, String(i)])).pid);
      const e = await cli.stop(signal); // at once: the last rows are still buffered
      expectCleanExit(e);
      const rows = e.stdout.split('\n').filter((l) => l.includes(m));
      expect(rows).toEqual(pids.map((p, i) => bccRow('true', p, process.pid, 0, `/bin/true ${m} ${i}`)));
    });
  }

  it('a closed pipe (| head -n 2) ends the run by itself, status 0, no stack trace', async () => {
    const p = await throughHead(CLI.path, [], () => run('/bin/true', [uniq()]));
    expect(p.ended).toBe(true);
    expect(p.status).toEqual([0, null]); // pipefail: node's own status too
    const lines = p.out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(HEADER);
    expect(lines[1]).toMatch(/^.{16} \d+ +\d+ +-?\d+ /);
    expect(lines[2]).toBe('');
    expect(p.stderr).toBe('');
  });
});

describe('errors and help', () => {
  for (const args of [['--bogus'], ['--max-args', 'abc'], ['--max-args', '0'], ['-P', '-5'], ['-P'], ['-u', 'nosuchuser'], ['-n', '(']]) {
    it(`bad usage ${args.join(' ')}: exit 2, one line on stderr`, async () => {
      expect(errorLine(await CLI.run(args), 2)).toMatch(/^execsnoop: \S/);
    });
  }

  it('not root: exit 1, one line saying root is needed', async () => {
    expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^execsnoop: .*root/);
  });

  it('--help: exit 0, every flag listed', async () => {
    expectHelp(await CLI.run(['--help']), 'Usage: execsnoop [options]', ['-T, --time', '-t, --timestamp', '-x, --fails', '-u, --uid <USER>', '-q, --quote', '-n, --name <NAME>', '-l, --line <LINE>', '-U, --print-uid', '--max-args <MAX_ARGS>', '-P, --ppid <PPID>', '--json', '-h, --help']);
  });
});
