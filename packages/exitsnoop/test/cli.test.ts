// The exitsnoop CLI as users run it: a child process, output into a pipe,
// stopped by a signal (or, with -p, ending by itself). Rows are matched by
// PID: the machine may be running other workloads at the same time.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { HEADER, cSource, corePattern, sh } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, errorLine, expectCleanExit, expectHelp, throughHead, tool } from '../../../test/support/cli.js';
import { tempDir, type TempDir } from '../../../test/support/tmp.js';
import { sleep } from '../../../test/support/wait.js';
import { compileC, run, start } from '../../../test/support/workload.js';
import { cgroupIdOf } from '../../../test/support/container.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: HEADER, pidColumn: 17 });

let tmp: TempDir;
let bin: { mtexit: string; abort: string };

beforeAll(() => {
  tmp = tempDir();
  bin = { mtexit: compileC(cSource('mtexit'), { flags: ['-pthread'] }), abort: compileC(cSource('abort')) };
});

afterAll(() => tmp?.cleanup());

const UTC_ENV = { ...process.env, TZ: 'UTC' };

/** BCC's row, "%-16s %-7d %-7d %-7d %-7.2f " + reason, with the age taken from `row` (it is not ours to predict). */
function bccRow(row: string, comm: string, pid: number, ppid: number, tid: number, reason: string, offset = 0): string {
  const b = Buffer.from(row);
  const age = b.subarray(offset + 41, offset + 48).toString();
  expect(age, row).toMatch(/^\d+\.\d\d *$/);
  const p = (s: string | number, w: number) => String(s) + ' '.repeat(Math.max(0, w - Buffer.byteLength(String(s))));
  return `${b.subarray(0, offset).toString()}${p(comm, 16)} ${p(pid, 7)} ${p(ppid, 7)} ${p(tid, 7)} ${age} ${reason}`;
}

describe('output', () => {
  it('default: header, code N, signal N (NAME), core dumped (no trailing space)', async () => {
    const cli = await CLI.start([]);
    const r3 = await sh('exit 3');
    const usr1 = start('/bin/sleep', ['30']);
    while (readFileSync(`/proc/${usr1.pid}/comm`, 'utf8').trim() !== 'sleep') await sleep(5);
    usr1.proc.kill('SIGUSR1');
    await usr1.done;
    const io = await sh('kill -IO $$');
    const rt = await sh('kill -40 $$');
    const ab = await run('/bin/sh', ['-c', `ulimit -c unlimited; exec ${bin.abort}`], { cwd: tmp.dir });
    const fileCore = !corePattern().startsWith('|') && !corePattern().includes('/');

    expect(await cli.row(r3.pid)).toBe(bccRow(await cli.row(r3.pid), 'sh', r3.pid, process.pid, r3.pid, 'code 3'));
    const rowUsr1 = await cli.row(usr1.pid);
    expect(rowUsr1).toBe(bccRow(rowUsr1, 'sleep', usr1.pid, process.pid, usr1.pid, 'signal 10 (USR1)'));
    const rowIo = await cli.row(io.pid);
    expect(rowIo).toBe(bccRow(rowIo, 'sh', io.pid, process.pid, io.pid, 'signal 29 (IO)'));
    const rowRt = await cli.row(rt.pid);
    expect(rowRt).toBe(bccRow(rowRt, 'sh', rt.pid, process.pid, rt.pid, 'signal 40 (RTMIN+6)'));
    const rowAb = await cli.row(ab.pid);
    if (fileCore) {
      // this machine writes a "core" file into the cwd when RLIMIT_CORE allows
      expect(readdirSync(tmp.dir).some((f) => f.startsWith('core'))).toBe(true);
      expect(rowAb).toBe(bccRow(rowAb, 'abort', ab.pid, process.pid, ab.pid, 'signal 6 (ABRT), core dumped'));
    } else {
      expect(rowAb).toMatch(/ signal 6 \(ABRT\)(, core dumped)?$/);
    }
    const e = await cli.stop('SIGINT');
    expectCleanExit(e);
    expect(e.stdout.split('\n')[0]).toBe(HEADER);
    expect(e.stdout.endsWith('\n')).toBe(true);
    for (const l of cli.lines().slice(1)) {
      expect(l, l).toMatch(/^.{16} \d+ +\d+ +\d+ +\d+\.\d\d +(0|code \d+|signal \d+ \([A-Z0-9+-]+\)(, core dumped)?)$/u);
      expect(l.endsWith(' ')).toBe(false);
    }
  });

  it('-t (zone-named header), --utc, --label: BCC headers, event times', async () => {
    const nyEnv = { ...process.env, TZ: 'America/New_York' };
    const nyZone = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', timeZoneName: 'short' })
      .formatToParts(new Date())
      .find((p) => p.type === 'timeZoneName')!.value; // EST or EDT
    const cols = 'PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE';
    const [tUtc, utcNy, tNy, labelEmpty, labelLong, labelShort] = await Promise.all([
      CLI.start(['-t', '--label='], `TIME-UTC     LABEL ${cols}`, { env: UTC_ENV }),
      CLI.start(['--utc'], `TIME-UTC     ${cols}`, { env: nyEnv }),
      CLI.start(['-t'], `TIME-${nyZone}     ${cols}`, { env: nyEnv }),
      CLI.start(['--label', ''], `LABEL ${cols}`),
      CLI.start(['--label', 'EXITED'], `LABEL ${cols}`),
      CLI.start(['--label=L'], `LABEL ${cols}`),
    ]);
    const before = Date.now();
    const r = await sh('exit 1');
    const after = Date.now();
    const nyClock = (ms: number) =>
      new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(ms);
    const utcClock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

    // the time column is the exit's own time, in [before, after] (to the second, +1 for rounding)
    const within = (time: string, fmt: (ms: number) => string) => {
      const ok = [before - 1000, before, after, after + 1000].map(fmt);
      expect(ok, time).toContain(time.slice(0, 8));
    };
    const a = await tUtc.row(r.pid, 19 + 17);
    expect(a).toMatch(/^\d\d:\d\d:\d\d\.\d{3} exit  /);
    within(a.slice(0, 12), utcClock);
    expect(a).toBe(bccRow(a, 'sh', r.pid, process.pid, r.pid, 'code 1', 19));
    const b = await utcNy.row(r.pid, 13 + 17);
    within(b.slice(0, 12), utcClock);
    expect(b).toBe(bccRow(b, 'sh', r.pid, process.pid, r.pid, 'code 1', 13));
    const c = await tNy.row(r.pid, 13 + 17);
    within(c.slice(0, 12), nyClock);
    expect(await labelEmpty.row(r.pid, 6 + 17)).toMatch(/^exit  sh {15}/);
    expect(await labelLong.row(r.pid, 7 + 17)).toMatch(/^EXITED sh {15}/);
    expect(await labelShort.row(r.pid, 6 + 17)).toMatch(/^L {5}sh {15}/);
    for (const cli of [tUtc, utcNy, tNy, labelEmpty, labelLong, labelShort]) expectCleanExit(await cli.stop());
  });

  it('--json: one object per line, exact fields', async () => {
    const cli = CLI.spawn(['--json']);
    // No header in JSON mode: run a probe workload until it shows up (start-up
    // can take seconds when the whole suite loads the machine).
    await cli.waitProbe(async () => `"pid":${(await sh('exit 42')).pid},`, 25_000);
    const t0 = Date.now();
    const r = await sh('kill -USR2 $$');
    await cli.waitOutput((out) => out.includes(`"pid":${r.pid},`));
    const line = cli.lines().find((l) => l.includes(`"pid":${r.pid},`))!;
    const ev = expectJsonLine(line) as any;
    expect(ev).toEqual({
      time: ev.time,
      elapsed: ev.elapsed,
      timestamp: ev.timestamp,
      pid: r.pid,
      tid: r.pid,
      ppid: process.pid,
      comm: 'sh',
      cgroupId: String(cgroupIdOf('self')),
      ageNs: ev.ageNs,
      ageSeconds: ev.ageSeconds,
      status: 12,
      exitCode: null,
      signal: 12,
      signalName: 'SIGUSR2',
      coreDumped: false,
      groupDead: true,
    });
    expect(Math.abs(Date.parse(ev.time) - t0)).toBeLessThan(5000);
    expect(ev.ageNs).toMatch(/^\d+$/);
    expect(ev.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(ev.ageSeconds).toBeLessThan(5);
    const e = await cli.stop();
    expectCleanExit(e);
    for (const l of cli.lines()) expect(() => JSON.parse(l), l).not.toThrow();
  });
});

describe('modes and filters', () => {
  it('a process whose main thread leaves first: one row at its end (code 7); --per-thread: a row per thread', async () => {
    const [proc, threads] = await Promise.all([CLI.start([]), CLI.start(['--per-thread'])]);
    const s = start(bin.mtexit, []);
    const [pid, tid] = (await s.firstLine).split(' ').map(Number) as [number, number];
    expect((await s.done).code).toBe(7);
    const row = await proc.row(pid);
    expect(row).toBe(bccRow(row, 'mtexit', pid, process.pid, tid, 'code 7'));
    expect(Number(row.slice(41, 48))).toBeGreaterThanOrEqual(0.3);
    await threads.waitOutput(() => threads.rows(pid).length >= 2);
    const [r1, r2] = threads.rows(pid);
    expect(r1).toBe(bccRow(r1!, 'mtexit', pid, process.pid, pid, '0'));
    expect(r2).toBe(bccRow(r2!, 'mtexit-worker', pid, process.pid, tid, 'code 7'));
    const [ep, et] = await Promise.all([proc.stop(), threads.stop()]);
    expectCleanExit(ep);
    expectCleanExit(et);
    expect(proc.rows(pid)).toHaveLength(1);
    expect(threads.rows(pid)).toHaveLength(2);
  });

  it('-x: only non-zero exits and signals', async () => {
    const cli = await CLI.start(['-x']);
    const ok = await sh('exit 0');
    const bad = await sh('exit 4');
    const killed = await sh('kill -TERM $$');
    expect(await cli.row(bad.pid)).toMatch(/ code 4$/);
    expect(await cli.row(killed.pid)).toMatch(/ signal 15 \(TERM\)$/);
    const e = await cli.stop();
    expectCleanExit(e);
    expect(cli.rows(ok.pid)).toEqual([]);
    for (const l of cli.lines().slice(1)) expect(l, l).not.toMatch(/ 0$/);
  });

  it('-p PID: only that process, and the run ends by itself once it has exited', async () => {
    const target = start('/bin/sh', ['-c', 'read x; sleep 0; exit 6'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const quiet = start('/bin/sh', ['-c', 'read x; exit 0'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const [cli, cliX] = await Promise.all([CLI.start(['-p', String(target.pid)]), CLI.start(['-p', String(quiet.pid), '-x'])]);
    const other = await sh('exit 2');
    target.end('\n');
    quiet.end('\n');
    await Promise.all([target.done, quiet.done]);
    const [e, eX] = await Promise.all([cli.exited, cliX.exited]); // no signal: they end on their own
    expectCleanExit(e);
    expectCleanExit(eX);
    const lines = e.stdout.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(HEADER);
    expect(lines[1]).toBe(bccRow(lines[1]!, 'sh', target.pid, process.pid, target.pid, 'code 6'));
    expect(lines[2]).toBe('');
    expect(e.stdout).not.toContain(` ${other.pid} `);
    // -x hides the exit(0), but the run still ends with it
    expect(eX.stdout).toBe(`${HEADER}\n`);
  });

  it('-p of a process that has already exited (a zombie): one line, exit 1', async () => {
    // sh execs sleep, which never reaps its finished child: the child stays a zombie.
    const parent = start('/bin/sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 20']);
    try {
      const zombie = Number(await parent.firstLine);
      while (readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1]![0] !== 'Z') await sleep(5);
      const e = await CLI.run(['-p', String(zombie)]);
      expect([e.code, e.signal]).toEqual([1, null]);
      expect(e.stderr).toBe(`exitsnoop: process ${zombie} exited before tracing started\n`);
      expect(e.stdout).toBe(`${HEADER}\n`);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('ending the run', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: every exit before the signal is printed (piped output is flushed)`, async () => {
      const cli = await CLI.start([]);
      const pids: number[] = [];
      for (let i = 0; i < 30; i++) pids.push((await sh(`exit ${i + 1}`)).pid);
      const e = await cli.stop(signal); // at once: the last rows are still buffered
      expectCleanExit(e);
      const rows = pids.map((p) => cli.rows(p));
      expect(rows.map((r) => r.length)).toEqual(pids.map(() => 1));
      expect(rows.map((r) => r[0]!.slice(49))).toEqual(pids.map((_, i) => `code ${i + 1}`));
    });
  }

  it('a closed pipe (| head -n 2) ends the run by itself, status 0, no stack trace', async () => {
    const p = await throughHead(CLI.path, [], () => sh('exit 0'));
    expect(p.ended).toBe(true);
    expect(p.status).toEqual([0, null]); // pipefail: node's own status too
    const lines = p.out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(HEADER);
    expect(lines[1]).toMatch(/^.{16} \d+ +\d+ +\d+ +\d+\.\d\d /);
    expect(lines[2]).toBe('');
    expect(p.stderr).toBe('');
  });
});

describe('errors and help', () => {
  // a thread of this process that is not its main thread
  const tid = readdirSync('/proc/self/task').map(Number).find((t) => t !== process.pid)!;

  const bad: string[][] = [['--bogus'], ['-p', 'abc'], ['-p', '0'], ['-p', '-5'], ['-p'], ['-p', '99999999'], ['-p', '4194304'], ['-p', String(tid)], ['--label']];
  it(`bad usage (${bad.map((a) => a.join(' ')).join(', ')}): exit 2, one line on stderr`, async () => {
    const results = await Promise.all(bad.map((args) => CLI.run(args)));
    results.forEach((e, i) => {
      const what = bad[i]!.join(' ');
      expect(errorLine(e, 2, what), what).toMatch(/^exitsnoop: \S/);
    });
    expect(results[7]!.stderr).toBe(`exitsnoop: invalid -p value '${tid}': ${tid} is a thread of process ${process.pid}\n`);
  });

  it('not root: exit 1, one line saying root is needed', async () => {
    expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^exitsnoop: .*root/);
  });

  it('--help: exit 0, every flag listed', async () => {
    expectHelp(await CLI.run(['--help']), 'Usage: exitsnoop [options]', ['-t, --timestamp', '--utc', '-p, --pid <PID>', '--label <LABEL>', '-x, --failed', '--per-thread', '--json', '-h, --help']);
  });
});
