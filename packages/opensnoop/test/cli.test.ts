// The opensnoop CLI as users run it: a child process, output into a pipe,
// stopped by a signal. Rows are matched by the workload's PID and paths
// unique to this run (the machine runs other workloads meanwhile).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HEADER, bccRow, buildOpener, hexPath, runOpener } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, errorLine, expectCleanExit, expectHelp, pidAt, throughHead, tool, type Cli } from '../../../test/support/cli.js';
import { tempDir, uniq, type TempDir } from '../../../test/support/tmp.js';
import { start } from '../../../test/support/workload.js';
import { cgroupIdOf } from '../../../test/support/container.js';

const HEADER_TUE = 'TIME(s)       UID   PID    COMM               FD ERR FLAGS    PATH';
const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: HEADER });

let tmp: TempDir;
let opener: string;

beforeAll(() => {
  tmp = tempDir('opensnoop-test-');
  opener = buildOpener();
});

afterAll(() => tmp?.cleanup());

/** Every row's columns start where the header's do (byte offsets). */
function expectAligned(header: string, rows: string[]): void {
  const fd = header.indexOf('  FD') + 4; // FD and ERR are right-aligned: their ends line up
  const err = header.indexOf(' ERR') + 4;
  const path = header.indexOf(' PATH') + 1;
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) {
    const b = Buffer.from(row);
    expect(b.subarray(fd - 5, err + 1).toString(), row).toMatch(/^ [ -]*\d+ +\d+ $/);
    if (b.length >= path) expect(b[path - 1], row).toBe(0x20);
  }
}

describe('output format', () => {
  it('default: header and rows exactly as BCC prints them (open, openat, openat2, a failure)', async () => {
    const cli = await CLI.start([]);
    const file = join(tmp.dir, uniq('f'));
    writeFileSync(file, 'x');
    const missing = join(tmp.dir, uniq('missing'));
    const r = await runOpener(opener, ['open', file, '0', '0', 'openat', 'cwd', missing, '0', '0', 'openat2', 'cwd', file, '2000000', '0']);
    const mine = (l: string) => pidAt(r.pid)(l) && (l.endsWith(file) || l.endsWith(missing));
    const rows = await cli.waitRows(mine, 3);
    expect(rows).toEqual([
      bccRow(r.pid, 'opener', r.calls[0]!.ret, 0, file),
      bccRow(r.pid, 'opener', -1, 2, missing),
      bccRow(r.pid, 'opener', r.calls[2]!.ret, 0, file),
    ]);
    const e = await cli.stop('SIGINT');
    expectCleanExit(e);
    expect(e.stdout.split('\n')[0]).toBe(HEADER);
    expect(e.stdout.endsWith('\n')).toBe(true);
    expectAligned(HEADER, cli.lines().slice(1));
  });

  it('-T -U -e: TIME(s), UID and FLAGS (octal) columns as BCC; -t switches the ID column to TID', async () => {
    const [cli, byTid] = await Promise.all([
      CLI.start(['-T', '-U', '-e'], HEADER_TUE),
      (async () => {
        // -t needs a live thread id: this test's own process will do for starting it
        return CLI.start(['-t', String(process.pid), '-e'], 'TID    COMM               FD ERR FLAGS    PATH');
      })(),
    ]);
    const created = join(tmp.dir, uniq('created'));
    const r = await runOpener(opener, ['openat', 'cwd', created, '1101', '644', 'open', created, '2000002', '0']);
    const rows = await cli.waitRows((l) => l.slice(20).startsWith(`${r.pid} `) && l.endsWith(created), 2);
    for (const row of rows) expect(row.slice(0, 14)).toMatch(/^\d+\.\d{9} *$/);
    expect(Number(rows[1]!.slice(0, 14))).toBeGreaterThanOrEqual(Number(rows[0]!.slice(0, 14)));
    expect(rows.map((l) => l.slice(14))).toEqual([
      `0     ${bccRow(r.pid, 'opener', r.calls[0]!.ret, 0, created, '', 0o1101)}`,
      `0     ${bccRow(r.pid, 'opener', r.calls[1]!.ret, 0, created, '', 0o2000002)}`,
    ]);
    const e = await cli.stop();
    expectCleanExit(e);
    const all = cli.lines();
    expect(all[0]).toBe(HEADER_TUE);
    expect(all[1]!.slice(0, 14)).toBe('0.000000000   '); // counted from the first event
    expectAligned(HEADER_TUE, all.slice(1));
    const t = await byTid.stop();
    expectCleanExit(t);
    expect(t.stdout.includes(created)).toBe(false);
  });

  it('control characters and invalid UTF-8 in a path print escaped, one row per event', async () => {
    const cli = await CLI.start([]);
    const m = uniq('ctl');
    const raw = Buffer.concat([Buffer.from(`${tmp.dir}/${m}\nfake row\t\x1b[2J`), Buffer.from([0xff]), Buffer.from('é')]);
    const r = await runOpener(opener, ['openat', 'cwd', hexPath(raw), '0', '0']);
    const [row] = await cli.waitRows((l) => l.includes(m), 1);
    expect(row).toBe(bccRow(r.pid, 'opener', -1, 2, `${tmp.dir}/${m}\\nfake row\\t\\x1b[2J\\xffé`));
    expectCleanExit(await cli.stop());
    expect(cli.stdout).not.toContain('\x1b');
  });

  it('the four characters \\xff and the byte 0xff in a file name print differently, in text and in JSON (exact bytes in path_bytes)', async () => {
    const m = uniq('x');
    const literal = join(tmp.dir, `${m}-\\xff`); // backslash, x, f, f
    const raw = Buffer.concat([Buffer.from(`${tmp.dir}/${m}-`), Buffer.from([0xff])]);
    writeFileSync(literal, 'a');
    writeFileSync(raw, 'b');
    const text = await CLI.start([]);
    const json = CLI.spawn(['--json']);
    const probe = join(tmp.dir, uniq('probe'));
    await json.waitProbe(async () => {
      await runOpener(opener, ['openat', 'cwd', probe, '0', '0']);
      return probe;
    });
    const r = await runOpener(opener, ['openat', 'cwd', hexPath(Buffer.from(literal)), '0', '0', 'openat', 'cwd', hexPath(raw), '0', '0']);
    expect(r.calls.map((c) => c.ret >= 0)).toEqual([true, true]); // both files exist: two names
    const rows = await text.waitRows((l) => pidAt(r.pid)(l) && l.includes(m), 2);
    expect(rows).toEqual([
      bccRow(r.pid, 'opener', r.calls[0]!.ret, 0, `${tmp.dir}/${m}-\\\\xff`),
      bccRow(r.pid, 'opener', r.calls[1]!.ret, 0, `${tmp.dir}/${m}-\\xff`),
    ]);
    await json.waitOutput(() => json.lines().filter((l) => l.includes(m)).length >= 2);
    const evs = json.lines().map((l) => JSON.parse(l)).filter((e) => e.pid === r.pid && e.path.includes(m));
    expect(evs.map((e) => [e.path, e.path_bytes])).toEqual([
      [literal, undefined],
      [`${tmp.dir}/${m}-\ufffd`, raw.toString('base64')],
    ]);
    expect(Object.keys(evs[1]).slice(Object.keys(evs[1]).indexOf('path'))).toEqual(['path', 'path_bytes', 'truncated']);
    expectCleanExit(await text.stop());
    expectCleanExit(await json.stop());
  });

  it('--json: one object per line, exact fields; control characters stay valid JSON', async () => {
    const cli = CLI.spawn(['--json']);
    // No header in JSON mode: open a marker until it shows up.
    const probe = join(tmp.dir, uniq('probe'));
    await cli.waitProbe(async () => {
      await runOpener(opener, ['openat', 'cwd', probe, '0', '0']);
      return probe;
    });
    const weird = `${tmp.dir}/${uniq('j')}\n\t"\\\x01é`;
    const created = join(tmp.dir, uniq('created'));
    const t0 = Date.now();
    const r = await runOpener(opener, ['openat', 'cwd', weird, '0', '0', 'openat2', 'cwd', created, '2000101', '600']);
    await cli.waitOutput((out) => out.includes(created));
    const evs = cli.lines().map((l) => expectJsonLine(l) as any).filter((e) => e.pid === r.pid && (e.path === weird || e.path === created));
    const common = { pid: r.pid, tid: r.pid, uid: 0, comm: 'opener', cgroupId: String(cgroupIdOf('self')), dirfd: -100, truncated: false };
    expect(evs.map(({ time: _t, elapsed: _e, timestamp: _ts, ...e }) => e)).toEqual([
      { ...common, syscall: 'openat', fd: -1, errno: 2, flags: 0, mode: 0, path: weird },
      { ...common, syscall: 'openat2', fd: r.calls[1]!.ret, errno: 0, flags: 0o2000101, mode: 0o600, path: created },
    ]);
    expect(Math.abs(Date.parse(evs[0].time) - t0)).toBeLessThan(10_000);
    expect(evs[0].elapsed).toBeGreaterThan(0);
    expect(BigInt(evs[1].timestamp)).toBeGreaterThan(BigInt(evs[0].timestamp));
    const e = await cli.stop();
    expectCleanExit(e);
    for (const l of cli.lines()) expect(() => JSON.parse(l), l).not.toThrow();
  });
});

describe('filters', () => {
  it('-p, -x, -u, -n, -f (O_RDONLY, O_WRONLY) and -F, each on one workload', async () => {
    const file = join(tmp.dir, uniq('f'));
    writeFileSync(file, 'x');
    const missing = join(tmp.dir, uniq('missing'));
    const out = join(tmp.dir, uniq('out'));
    const sub = join(tmp.dir, uniq('sub'));
    mkdirSync(sub);
    const comm = uniq('c').slice(0, 15);
    const args = ['openat', 'cwd', file, '0', '0', 'openat', 'cwd', missing, '0', '0', 'openat', 'cwd', out, '101', '600',
      'chdir', sub, 'comm', comm, 'openat', 'cwd', 'rel', '0', '0'];
    // -p needs the PID before the workload runs: a shell that waits, then execs opener.
    const child = start('/bin/sh', ['-c', `read x; exec ${opener} "$@"`, 'sh', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    const pid = child.pid;
    const [byPid, failed, nobody, named, rdonly, wronly, full] = await Promise.all([
      CLI.start(['-p', String(pid)]),
      CLI.start(['-x']),
      CLI.start(['-u', 'nobody', '-U'], `UID   ${HEADER}`),
      CLI.start(['-n', comm.slice(2, 11)]),
      CLI.start(['-f', 'O_RDONLY']),
      CLI.start(['-f', 'O_WRONLY', '--flag_filter', 'O_RDWR']),
      CLI.start(['-F']),
    ]);
    try {
      child.end('go\n');
      const { stdout } = await child.done;
      const ret = stdout.split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1]));
      const rNobody = await runOpener(opener, ['openat', 'cwd', missing, '0', '0'], { uid: 65534, gid: 65534, cwd: '/' });
      const rowsOf = (c: Cli, n: number, p = pid, offset = 0) => c.waitRows(pidAt(p, offset), n);

      const all = [
        bccRow(pid, 'opener', ret[0]!, 0, file),
        bccRow(pid, 'opener', -1, 2, missing),
        bccRow(pid, 'opener', ret[2]!, 0, out),
        bccRow(pid, comm, -1, 2, 'rel'),
      ];
      // -p: every open of the process, ld.so's included, and nothing else
      expect((await byPid.waitRows((l) => pidAt(pid)(l) && (l.includes(tmp.dir) || l.endsWith(' rel')), 4))).toEqual(all);
      // -x: the failures only
      expect(await failed.waitRows((l) => l.includes(missing), 2)).toEqual([all[1], bccRow(rNobody.pid, 'opener', -1, 2, missing)]);
      // -u nobody: the second process only
      expect(await nobody.waitRows((l) => pidAt(rNobody.pid, 6)(l) && l.endsWith(missing), 1)).toEqual([
        `65534 ${bccRow(rNobody.pid, 'opener', -1, 2, missing)}`,
      ]);
      // -n: comm contains the text
      expect(await rowsOf(named, 1)).toEqual([all[3]]);
      // -f O_RDONLY: read-only opens (BCC's mask would be 0 and show nothing)
      expect(await rdonly.waitRows((l) => pidAt(pid)(l) && (l.includes(tmp.dir) || l.endsWith(' rel')), 3)).toEqual([all[0], all[1], all[3]]);
      // -f O_WRONLY -f O_RDWR: the one write
      expect(await rowsOf(wronly, 1)).toEqual([all[2]]);
      // -F: the relative path made absolute
      expect(await full.waitRows((l) => pidAt(pid)(l) && l.includes(`${sub}/rel`), 1)).toEqual([bccRow(pid, comm, -1, 2, `${sub}/rel`)]);

      const ends = await Promise.all([byPid, failed, nobody, named, rdonly, wronly, full].map((c) => c.stop()));
      ends.forEach(expectCleanExit);
      const [p, x, u, n, ro, wo] = ends.map((e) => e.stdout.split('\n').filter(Boolean).slice(1));
      for (const l of p!) expect(pidAt(pid)(l), l).toBe(true);
      for (const l of x!) expect(l.slice(24, 32), l).toMatch(/^ +-1 +\d+$/);
      for (const l of u!) expect(l.startsWith('65534 '), l).toBe(true);
      for (const l of n!) expect(l.slice(7, 23).includes(comm.slice(2, 11)), l).toBe(true);
      expect(ro!.join('\n')).not.toContain(out);
      expect(wo!.join('\n')).not.toContain(file);
    } finally {
      for (const c of [byPid, failed, nobody, named, rdonly, wronly, full]) c.proc.kill('SIGKILL');
    }
  });
});

describe('ending the run', () => {
  it('-d 1 exits 0 at the deadline while events keep coming (libbpf-tools exits 1 here)', async () => {
    const cli = CLI.spawn(['-d', '1']);
    let done = false;
    const loop = (async () => {
      const f = join(tmp.dir, uniq('busy'));
      while (!done) await runOpener(opener, ['repeat', '2000', 'openat', 'cwd', f, '0', '0']);
    })();
    const e = await cli.exited;
    done = true;
    await loop;
    expectCleanExit(e);
    expect(e.stdout.split('\n')[0]).toBe(HEADER);
    expect(e.stdout.split('\n').length).toBeGreaterThan(2);
    expect(e.stdout.endsWith('\n')).toBe(true);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: every event before the signal is printed (piped output is flushed)`, async () => {
      const cli = await CLI.start([]);
      const m = join(tmp.dir, uniq('sig'));
      const args: string[] = [];
      for (let i = 0; i < 40; i++) args.push('openat', 'cwd', `${m}-${i}`, '0', '0');
      const r = await runOpener(opener, args);
      const e = await cli.stop(signal); // at once: the last rows are still buffered
      expectCleanExit(e);
      const rows = e.stdout.split('\n').filter((l) => l.includes(m));
      expect(rows).toEqual(Array.from({ length: 40 }, (_, i) => bccRow(r.pid, 'opener', -1, 2, `${m}-${i}`)));
    });
  }

  it('a closed pipe (| head -n 2) ends the run by itself, status 0, no stack trace', async () => {
    const p = await throughHead(CLI.path, [], () => runOpener(opener, ['repeat', '100', 'openat', 'cwd', '/', '0', '0']));
    expect(p.ended).toBe(true);
    expect(p.status).toEqual([0, null]); // pipefail: node's own status too
    const lines = p.out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(HEADER);
    expect(lines[1]).toMatch(/^\d+ +.{16} +-?\d+ +\d+ /);
    expect(p.stderr).toBe('');
  });
});

describe('errors and help', () => {
  const bad = [
    ['--bogus'], ['-p', 'abc'], ['-p', '0'], ['-p', '99999999'], ['-p'], ['-t', '-5'], ['-u', 'nosuchuser'],
    ['-d', '0'], ['-d', 'x'], ['-f', 'O_BOGUS'], ['-f', 'rdonly'], ['-b', '3'], ['-b', '0'], ['-n', 'sixteen-bytes-xx'],
    ['--cgroupmap', '/sys/fs/bpf/x'], ['--mntnsmap', '/sys/fs/bpf/x'], ['stray'],
  ];
  for (const args of bad) {
    it(`bad usage ${args.join(' ')}: exit 2, one line on stderr`, async () => {
      const line = errorLine(await CLI.run(args), 2);
      expect(line).toMatch(/^opensnoop: \S/);
      if (args[0] === '-f') expect(line).toBe(`opensnoop: Bad flag: ${args[1]}`);
    });
  }

  it('not root: exit 1, one line saying root is needed', async () => {
    expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^opensnoop: .*root/);
  });

  it('--help: exit 0, every BCC flag listed', async () => {
    expectHelp(await CLI.run(['--help']), 'Usage: opensnoop [options]', ['-T, --timestamp', '-U, --print-uid', '-x, --failed', '-p, --pid <PID>', '-t, --tid <TID>', '-u, --uid <UID>',
      '-d, --duration <DURATION>', '-n, --name <NAME>', '-e, --extended_fields', '-f, --flag_filter <FLAG>', '-F, --full-path',
      '-b, --buffer-pages <BUFFER_PAGES>', '--json', '-h, --help']);
  });
});
