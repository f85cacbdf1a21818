// The execsnoop CLI as users run it: a child process, output into a pipe,
// stopped by a signal. Rows are matched by PID and unique markers (the
// machine may be running other workloads at the same time).
import { describe, it, expect } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runMissing, sleep, tempDir, threadComm, uniq } from './helpers.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const HEADER = 'PCOMM            PID     PPID    RET ARGS';
const HEADER_TTU = 'TIME     TIME(s) UID   PCOMM            PID     PPID    RET ARGS';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running CLI and what it has printed so far. */
class Cli {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;

  constructor(args: string[], wrap: string[] = []) {
    const [cmd, ...pre] = wrap.length ? wrap : [process.execPath];
    this.proc = spawn(cmd!, [...pre, ...(wrap.length ? [process.execPath] : []), CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      this.proc.on('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })),
    );
  }

  /** Starts the CLI and waits until it prints its header (tracing is attached then). */
  static async start(args: string[], header = HEADER): Promise<Cli> {
    const cli = new Cli(args);
    await cli.waitOutput((out) => out.startsWith(`${header}\n`), 10_000);
    return cli;
  }

  lines(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '');
  }

  async waitOutput(pred: (stdout: string) => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this.stdout)) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`CLI exited early (${this.proc.exitCode ?? this.proc.signalCode}): ${this.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out; stdout so far:\n${this.stdout.slice(-2000)}`);
      await sleep(20);
    }
  }

  /** The one output line containing `text` (waits for it). */
  async line(text: string): Promise<string> {
    await this.waitOutput((out) => out.includes(text));
    const found = this.lines().filter((l) => l.includes(text));
    expect(found).toHaveLength(1);
    return found[0]!;
  }

  /** The one row whose PID column is `pid` (default layout), waiting for it. */
  async row(pid: number, offset = 17): Promise<string> {
    const match = (l: string) => l.slice(offset).startsWith(`${pid} `);
    await this.waitOutput(() => this.lines().some(match));
    const found = this.lines().filter(match);
    expect(found).toHaveLength(1);
    return found[0]!;
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Exit> {
    this.proc.kill(signal);
    return this.exited;
  }
}

/** A clean end: status 0, nothing on stderr. */
function expectCleanExit(e: Exit): void {
  expect(e.stderr).not.toMatch(/^\s+at /m);
  expect(e.stderr).toBe('');
  expect([e.code, e.signal]).toEqual([0, null]);
}

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
    const cli = await Cli.start([]);
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
    const cli = await Cli.start(['-T', '-t', '-U'], HEADER_TTU);
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
    const cli = await Cli.start(['-q']);
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
    const cli = await Cli.start([]);
    const m = uniq();
    const r = await run('/bin/echo', ['x\ny', 'q"uote', m]);
    expect(await cli.row(r.pid)).toBe(bccRow('echo', r.pid, process.pid, 0, `/bin/echo x\\ny q"uote ${m}`));
    expectCleanExit(await cli.stop());
  });

  it('--max-args: filename counts as one field, then "..." ("..." quoted with -q, as BCC)', async () => {
    const cli3 = await Cli.start(['--max-args', '3']);
    const cli3q = await Cli.start(['--max-args', '3', '-q']);
    const cliDefault = await Cli.start([]);
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
    const cli = new Cli(['--json']);
    // No header in JSON mode: run a probe workload until it shows up.
    const probe = uniq('probe');
    const deadline = Date.now() + 10_000;
    while (!cli.stdout.includes(probe)) {
      expect(Date.now()).toBeLessThan(deadline);
      await run('/bin/true', [probe]);
      await sleep(100);
    }
    const args = ['a b', 'q"uote', '', 'new\nline', 'tab\t', 'héllo ✓', 'back\\slash', uniq()];
    const t0 = Date.now();
    const r = await run('/bin/echo', args);
    const line = await cli.line(args.at(-1)!);
    const ev = JSON.parse(line);
    expect(ev).toEqual({
      time: ev.time,
      timestamp: ev.timestamp,
      pid: r.pid,
      ppid: process.pid,
      uid: 0,
      comm: 'echo',
      ret: 0,
      filename: '/bin/echo',
      args,
      truncated: false,
    });
    expect(Math.abs(Date.parse(ev.time) - t0)).toBeLessThan(5000);
    expect(typeof ev.timestamp).toBe('number');
    expect(ev.timestamp).toBeGreaterThan(0);
    const e = await cli.stop();
    expectCleanExit(e);
    for (const l of cli.lines()) expect(() => JSON.parse(l), l).not.toThrow();
  });
});

describe('filters', () => {
  const nobody = { uid: 65534, gid: 65534, cwd: '/' };

  it('-x shows failed execs with RET -2 and the caller\'s comm', async () => {
    const cli = await Cli.start(['-x']);
    const missing = `/nonexistent-dir/${uniq()}`;
    await runMissing(missing, ['a b']);
    const row = await cli.line(missing);
    const pid = Number(row.slice(17, 24));
    expect(pid).toBeGreaterThan(0);
    expect(row).toBe(bccRow(threadComm(), pid, process.pid, -2, `${missing} a b`));
    expectCleanExit(await cli.stop());
  });

  it('-u 0 and -u root trace only root (BCC ignores them); -u nobody only that user', async () => {
    const byUid = await Cli.start(['-u', '0', '-U'], `UID   ${HEADER}`);
    const byRoot = await Cli.start(['-u', 'root', '-U'], `UID   ${HEADER}`);
    const byName = await Cli.start(['-u', 'nobody', '-U'], `UID   ${HEADER}`);
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
    const cli = await Cli.start(['-P', String(process.pid)]);
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
    const byName = await Cli.start(['-n', '^ec.o$']);
    const m = uniq('line');
    const byLine = await Cli.start(['-l', `^/bin/echo pre ${m}$`]);
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
      const cli = await Cli.start([]);
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
    const { dir, cleanup } = tempDir();
    try {
      const err = join(dir, 'stderr');
      const pipeline = spawn('/bin/bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${CLI}" 2>"${err}" | head -n 2`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      pipeline.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      let done = false;
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
        pipeline.on('close', (code, sig) => {
          done = true;
          r([code, sig]);
        }),
      );
      const deadline = Date.now() + 15_000;
      while (!done && Date.now() < deadline) {
        await run('/bin/true', [uniq()]);
        await sleep(50);
      }
      expect(done).toBe(true);
      expect(await exited).toEqual([0, null]); // pipefail: node's own status too
      const lines = out.split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toBe(HEADER);
      expect(lines[1]).toMatch(/^.{16} \d+ +\d+ +-?\d+ /);
      expect(lines[2]).toBe('');
      expect(readFileSync(err, 'utf8')).toBe('');
    } finally {
      cleanup();
    }
  });
});

describe('errors and help', () => {
  const runCli = (args: string[], wrap: string[] = []) => new Cli(args, wrap).exited;

  for (const args of [['--bogus'], ['--max-args', 'abc'], ['--max-args', '0'], ['-P', '-5'], ['-P'], ['-u', 'nosuchuser'], ['-n', '(']]) {
    it(`bad usage ${args.join(' ')}: exit 2, one line on stderr`, async () => {
      const e = await runCli(args);
      expect([e.code, e.signal]).toEqual([2, null]);
      expect(e.stdout).toBe('');
      expect(e.stderr).not.toMatch(/^\s+at /m);
      expect(e.stderr.endsWith('\n')).toBe(true);
      const lines = e.stderr.split('\n').slice(0, -1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^execsnoop: \S/);
    });
  }

  it('not root: exit 1, one line saying root is needed', async () => {
    const e = await runCli([], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    expect([e.code, e.signal]).toEqual([1, null]);
    expect(e.stdout).toBe('');
    expect(e.stderr).not.toMatch(/^\s+at /m);
    const lines = e.stderr.split('\n').slice(0, -1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^execsnoop: .*root/);
  });

  it('--help: exit 0, every flag listed', async () => {
    const e = await runCli(['--help']);
    expect([e.code, e.signal, e.stderr]).toEqual([0, null, '']);
    expect(e.stdout.startsWith('Usage: execsnoop [options]')).toBe(true);
    for (const flag of ['-T, --time', '-t, --timestamp', '-x, --fails', '-u, --uid <USER>', '-q, --quote', '-n, --name <NAME>', '-l, --line <LINE>', '-U, --print-uid', '--max-args <MAX_ARGS>', '-P, --ppid <PPID>', '--json', '-h, --help']) {
      expect(e.stdout, flag).toContain(`  ${flag} `);
    }
  });
});
