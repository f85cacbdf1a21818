// The sigsnoop and killsnoop CLIs as users run them: child processes, output
// into a pipe, stopped by a signal. One workload run is watched by a CLI per
// flag set at once; rows are matched by the workload's PIDs (the machine may
// be sending other signals at the same time), and filters are checked on
// every row they print.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { CHILD, SIGRTMIN, expectedFromChildren, expectedFromWorkload, runAll, type Work } from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, errorLine, expectCleanExit, throughHead, tool, type Cli, type Exit } from '../../../test/support/cli.js';
import { sleep } from '../../../test/support/wait.js';

// Ready once the first line (the header) is out; --json prints none: ready
// once the process holds its 13 BPF links.
const ready = { ready: (out: string) => out.includes('\n') };
const BIN = {
  sigsnoop: tool(new URL('../dist/cli.js', import.meta.url), ready),
  killsnoop: tool(new URL('../dist/killsnoop.js', import.meta.url), ready),
};
type Tool = keyof typeof BIN;
const start = (t: Tool, args: string[]): Promise<Cli> => BIN[t].start(args, args.includes('--json') ? { links: 13 } : undefined);

// libbpf-tools sigsnoop: "%-8s %-7s %-16s %-9s %-7s %-6s\n"
const SIG_HEADER = 'TIME     PID     COMM             SIG       TPID    RESULT';
// BCC killsnoop: "%-9s %-*s %-16s %-4s %-*s %s", PID width len(pid_max) + 1
const PIDW = readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim().length + 1;
const l = (s: string | number, w: number) => String(s).padEnd(w);
const KILL_HEADER = `${l('TIME', 9)} ${l('PID', PIDW)} ${l('COMM', 16)} ${l('SIG', 4)} ${l('TPID', PIDW)} RESULT`;

/** Rows (without the header) whose PID column is one of `pids`. */
function rowsOf(stdout: string, pids: number[]): string[] {
  return stdout
    .split('\n')
    .slice(1)
    .filter((r) => pids.includes(Number(r.split(/ +/)[1])));
}

/** Every row, split into columns (no COMM here has spaces). */
const columns = (stdout: string) =>
  stdout
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((r) => r.split(/ +/));

const TIME8 = /^\d\d:\d\d:\d\d $/;

type Expected = ReturnType<typeof expectedFromWorkload>[number] | ReturnType<typeof expectedFromChildren>[number];

// The references' rows, built here with plain padEnd (no code shared with src/).
const NAMES: Record<number, string> = { 0: 'N/A', 9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 15: 'SIGTERM', 17: 'SIGCHLD' };
const name = (sig: number) => NAMES[sig] ?? (sig > SIGRTMIN ? `SIGRTMIN+${sig - SIGRTMIN}` : String(sig));
// With -k, RESULT is the syscall's return (libbpf-tools' -k, BCC's killsnoop).
const sigRow = (e: Expected, names = false, kill = false) =>
  `${l(e.pid, 7)} ${l(e.comm, 16)} ${l(names ? name(e.sig) : e.sig, 9)} ${l(e.tpid, 7)} ${l(kill ? (e.ret ?? 0) : e.result, 6)}`;
const killRow = (e: Expected) => `${l(e.pid, PIDW)} ${l(e.comm, 16)} ${l(e.sig, 4)} ${l(e.tpid, PIDW)} ${e.ret ?? 0}`;

describe('one workload, watched by a CLI per flag set', () => {
  const clis = new Map<string, Cli>();
  const exits = new Map<string, Exit>();
  let w: Work;
  let fromWork: Expected[];
  let fromChildren: Expected[];

  beforeAll(async () => {
    const fixed: Array<[string, Tool, string[]]> = [
      ['sigsnoop', 'sigsnoop', []],
      ['sigsnoop -n', 'sigsnoop', ['-n']],
      ['sigsnoop -k', 'sigsnoop', ['-k']],
      ['sigsnoop -k -x', 'sigsnoop', ['-k', '-x']],
      ['sigsnoop -x', 'sigsnoop', ['-x']],
      ['sigsnoop -s SIGUSR2', 'sigsnoop', ['-s', 'SIGUSR2']],
      ['sigsnoop -s rtmin+2', 'sigsnoop', ['--signal', 'rtmin+2']],
      ['sigsnoop -c', 'sigsnoop', ['-c', 'sigwork-child-of']],
      ['sigsnoop --json', 'sigsnoop', ['--json']],
      ['killsnoop', 'killsnoop', []],
      ['killsnoop -x', 'killsnoop', ['-x']],
    ];
    const started = await Promise.all(fixed.map(([, tool, args]) => start(tool, args)));
    fixed.forEach(([key], i) => clis.set(key, started[i]!));
    w = await runAll(async (p) => {
      const more: Array<[string, Tool, string[]]> = [
        ['sigsnoop -p', 'sigsnoop', ['-p', String(p.pid)]],
        ['sigsnoop -T', 'sigsnoop', ['-T', String(p.a)]],
        ['killsnoop -p -T -s', 'killsnoop', ['-p', String(p.pid), '-T', String(p.a), '-s', '10']],
      ];
      const s = await Promise.all(more.map(([, tool, args]) => start(tool, args)));
      more.forEach(([key], i) => clis.set(key, s[i]!));
    });
    fromWork = expectedFromWorkload(w);
    fromChildren = expectedFromChildren(w);
    // The unfiltered CLI has printed the workload's last event: the others
    // have theirs in their buffers too. Stop every one (SIGINT flushes).
    const all = clis.get('sigsnoop')!;
    await all.waitOutput((out) => rowsOf(out, w.all).length >= fromWork.length + fromChildren.length, 10_000);
    await sleep(200);
    await Promise.all([...clis].map(async ([k, c]) => exits.set(k, await c.stop())));
  }, 60_000);

  afterAll(() => {
    for (const c of clis.values()) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  });

  const out = (key: string) => exits.get(key)!.stdout;

  it('every CLI ended cleanly on SIGINT', () => {
    for (const [k, e] of exits) expect([k, e.code, e.signal, e.stderr]).toEqual([k, 0, null, '']);
  });

  it('sigsnoop: libbpf-tools\' header and rows, byte for byte (RESULT padded to 6, trailing spaces)', () => {
    const o = out('sigsnoop');
    expect(o.split('\n')[0]).toBe(SIG_HEADER);
    const rows = rowsOf(o, w.all);
    for (const r of rows) expect(r.slice(0, 9)).toMatch(TIME8);
    expect(rows.filter((r) => Number(r.split(/ +/)[1]) === w.pid).map((r) => r.slice(9))).toEqual(fromWork.map((e) => sigRow(e)));
    expect(rows.filter((r) => Number(r.split(/ +/)[1]) !== w.pid).map((r) => r.slice(9)).sort()).toEqual(fromChildren.map((e) => sigRow(e)).sort());
  });

  it('sigsnoop -n: signal names for every signal: N/A for 0, SIGRTMIN+n for real-time ones', () => {
    const rows = rowsOf(out('sigsnoop -n'), [w.pid]).map((r) => r.slice(9));
    expect(rows).toEqual(fromWork.map((e) => sigRow(e, true)));
    expect(rows.map((r) => r.split(/ +/)[2])).toEqual([
      'SIGUSR1', 'SIGUSR1', 'SIGTERM', 'N/A', 'SIGUSR2', 'SIGRTMIN+1', 'SIGRTMIN+2', 'SIGRTMIN+3', 'SIGUSR1', 'SIGUSR1',
      'SIGUSR2', 'SIGUSR2', 'SIGUSR2', 'SIGUSR2', 'SIGUSR1', 'SIGUSR1', 'SIGUSR2', 'SIGKILL', 'SIGKILL', 'SIGKILL', 'SIGKILL', 'SIGKILL', 'SIGCHLD',
    ]);
  });

  it('killsnoop: BCC\'s header and columns; RESULT is the syscall\'s return (0 for an ignored signal)', () => {
    const o = out('killsnoop');
    expect(o.split('\n')[0]).toBe(KILL_HEADER);
    const rows = rowsOf(o, w.all);
    for (const r of rows) expect(r.slice(0, 10)).toMatch(/^\d\d:\d\d:\d\d  $/);
    expect(rows.map((r) => r.slice(10))).toEqual(fromWork.filter((e) => e.syscall).map(killRow));
    expect(rows.map((r) => r.split(/ +/)[5])).toContain('0'); // kill of the child ignoring SIGUSR1
  });

  it('sigsnoop -k: every kill-family call, none of the kernel\'s signals; RESULT is the syscall\'s return', () => {
    const rows = rowsOf(out('sigsnoop -k'), w.all).map((r) => r.slice(9));
    expect(rows).toEqual(fromWork.filter((e) => e.syscall).map((e) => sigRow(e, false, true)));
    const result = (syscall: string, sig: number, tpid: number) => {
      const i = fromWork.filter((e) => e.syscall).findIndex((e) => e.syscall === syscall && e.sig === sig && e.tpid === tpid && e.delivery !== 'delivered');
      return rows[i]!.split(/ +/)[4];
    };
    // tgkill() onto the SIGUSR2 tkill() left pending returned 0 (the default view says 2)
    expect(result('tgkill', 12, w.c)).toBe('0');
    expect(result('kill', 15, w.dead)).toBe('-3'); // ESRCH, as BCC prints it
  });

  it('sigsnoop -k -x: only the calls that failed (RESULT < 0)', () => {
    for (const c of columns(out('sigsnoop -k -x'))) expect(Number(c[5])).toBeLessThan(0);
    expect(rowsOf(out('sigsnoop -k -x'), w.all).map((r) => r.slice(9))).toEqual(fromWork.filter((e) => (e.ret ?? 0) < 0).map((e) => sigRow(e, false, true)));
  });

  it('sigsnoop -x: every row printed has RESULT not 0; for the workload, exactly its failures', () => {
    for (const c of columns(out('sigsnoop -x'))) expect(c[5]).not.toBe('0');
    const want = [...fromWork, ...fromChildren].filter((e) => e.result !== 0).map((e) => sigRow(e));
    expect(rowsOf(out('sigsnoop -x'), w.all).map((r) => r.slice(9)).sort()).toEqual(want.sort());
  });

  it('killsnoop -x: only calls that failed (BCC: ret < 0)', () => {
    for (const c of columns(out('killsnoop -x'))) expect(Number(c[5])).toBeLessThan(0);
    expect(rowsOf(out('killsnoop -x'), w.all).map((r) => r.slice(10))).toEqual(fromWork.filter((e) => (e.ret ?? 0) < 0).map(killRow));
  });

  it('sigsnoop -s: a name, or RTMIN+n in any case; every row has that signal', () => {
    const usr2 = columns(out('sigsnoop -s SIGUSR2'));
    for (const c of usr2) expect(c[3]).toBe('12');
    expect(rowsOf(out('sigsnoop -s SIGUSR2'), w.all)).toHaveLength(6);
    for (const c of columns(out('sigsnoop -s rtmin+2'))) expect(c[3]).toBe(String(SIGRTMIN + 2));
    expect(rowsOf(out('sigsnoop -s rtmin+2'), w.all).map((r) => r.slice(9))).toEqual([sigRow(fromWork[6]!)]);
  });

  it('sigsnoop -c: only senders with that command (compared on its first 15 bytes)', () => {
    const cols = columns(out('sigsnoop -c'));
    for (const c of cols) expect(c[2]).toBe(CHILD);
    expect(rowsOf(out('sigsnoop -c'), w.all).map((r) => r.slice(9)).sort()).toEqual(fromChildren.map((e) => sigRow(e)).sort());
  });

  it('sigsnoop -p: only that sender, every row', () => {
    const cols = columns(out('sigsnoop -p'));
    for (const c of cols) expect(Number(c[1])).toBe(w.pid);
    expect(cols).toHaveLength(fromWork.length);
  });

  it('sigsnoop -T: only that target, every row (a pidfd counts as its process)', () => {
    const cols = columns(out('sigsnoop -T'));
    for (const c of cols) expect(Number(c[4])).toBe(w.a);
    expect(rowsOf(out('sigsnoop -T'), w.all).map((r) => r.slice(9))).toEqual(fromWork.filter((e) => e.tpid === w.a).map((e) => sigRow(e)));
  });

  it('killsnoop -p -T -s together', () => {
    const rows = out('killsnoop -p -T -s').split('\n').slice(1).filter(Boolean).map((r) => r.slice(10));
    expect(rows).toEqual(fromWork.filter((e) => e.tpid === w.a && e.sig === 10).map(killRow));
    expect(rows).toHaveLength(2); // kill() and pidfd_send_signal()
  });

  it('--json: one object per line, every field', () => {
    const objs = out('sigsnoop --json')
      .split('\n')
      .filter(Boolean)
      .map((line) => expectJsonLine(line));
    const mine = objs.filter((o) => o.pid === w.pid);
    expect(mine.map((o) => ({ pid: o.pid, comm: o.comm, sig: o.sig, tpid: o.tpid, syscall: o.syscall, ret: o.ret, generated: o.generated, delivery: o.delivery, code: o.code, result: o.result }))).toEqual(fromWork);
    expect(mine.map((o) => o.signalName)).toEqual(fromWork.map((e) => (e.sig ? name(e.sig) : null)));
    for (const o of mine) {
      expect(Object.keys(o)).toEqual(['time', 'elapsed', 'timestamp', 'pid', 'tid', 'comm', 'cgroupId', 'sig', 'tpid', 'syscall', 'ret', 'generated', 'delivery', 'deliveryCode', 'code', 'result', 'signalName']);
      expect(o.deliveryCode === null || typeof o.deliveryCode === 'number').toBe(true);
      if (o.sig === 17) expect([w.pid, w.t]).toContain(o.tid); // sent by whichever thread exits last
      else expect(o.tid).toBe(w.pid);
    }
  });
});

describe('ending the run', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: every event before the signal is printed (piped output is flushed)`, async () => {
      const cli = await start('sigsnoop', ['-p', String(process.pid), '-s', '0']);
      for (let i = 0; i < 50; i++) process.kill(process.pid, 0);
      await sleep(50);
      const e = await cli.stop(signal); // at once: the rows may still be in the ring or the output buffer
      expectCleanExit(e);
      const rows = e.stdout.split('\n').slice(1).filter(Boolean);
      expect(rows.map((r) => r.slice(9))).toEqual(Array(50).fill(`${l(process.pid, 7)} ${l(readFileSync('/proc/self/comm', 'utf8').trim(), 16)} ${l(0, 9)} ${l(process.pid, 7)} ${l(0, 6)}`));
    });
  }

  it('a closed pipe (| head -n 2) ends the run by itself, status 0, no stack trace', async () => {
    const p = await throughHead(BIN.sigsnoop.path, ['-p', String(process.pid)], () => process.kill(process.pid, 0));
    expect(p.ended).toBe(true);
    expect(p.status).toEqual([0, null]); // pipefail: node's own status too
    const lines = p.out.split('\n');
    expect(lines).toEqual([SIG_HEADER, expect.stringMatching(/^\d\d:\d\d:\d\d /), '']);
    expect(lines[1]!.slice(9)).toBe(`${l(process.pid, 7)} ${l(readFileSync('/proc/self/comm', 'utf8').trim(), 16)} ${l(0, 9)} ${l(process.pid, 7)} ${l(0, 6)}`);
    expect(p.stderr).toBe('');
  });
});

describe('errors and help', () => {
  const runCli = (tool: Tool, args: string[], wrap: string[] = []) => BIN[tool].run(args, { wrap });
  const cases: Array<[Tool, string[]]> = [
    ['sigsnoop', ['-s', 'SIGFOO']],
    ['sigsnoop', ['-s', '65']],
    ['sigsnoop', ['-s', 'RTMIN+40']],
    ['sigsnoop', ['-p', 'abc']],
    ['sigsnoop', ['-p', '0']],
    ['sigsnoop', ['-p', '-5']],
    ['sigsnoop', ['-p', '4194304']], // in range, but no such process
    ['sigsnoop', ['-T', 'x']],
    ['sigsnoop', ['-T', '99999999']], // above pid_max
    ['sigsnoop', ['-T', '-99999999']],
    ['killsnoop', ['-T', '4194304']], // above any pid_max
    ['sigsnoop', ['-c', '']],
    ['sigsnoop', ['-s']],
    ['sigsnoop', ['--bogus']],
    ['sigsnoop', ['--jsn']], // no "did you mean" second line
    ['killsnoop', ['-n']], // BCC's killsnoop has no -n
    ['killsnoop', ['-s', 'nope']],
    ['killsnoop', ['-T', '1.5']],
  ];
  for (const [tool, args] of cases) {
    it(`${tool} ${args.join(' ')}: exit 2, one line on stderr`, async () => {
      expect(errorLine(await runCli(tool, args), 2)).toMatch(new RegExp(`^${tool}: \\S`));
    });
  }

  it('-T above pid_max: the line says why no task can match', async () => {
    const pidMax = readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim();
    expect(errorLine(await runCli('sigsnoop', ['-T', '99999999']), 2)).toBe(
      `sigsnoop: invalid -T value '99999999': not below pid_max (${pidMax}), so no process or group can have it`,
    );
  });

  it('not root: exit 1, one line saying root is needed', async () => {
    expect(errorLine(await runCli('sigsnoop', [], AS_NOBODY), 1)).toMatch(/^sigsnoop: .*root/);
  });

  it('--help: exit 0, every flag listed', async () => {
    const s = await runCli('sigsnoop', ['--help']);
    expect([s.code, s.stderr]).toEqual([0, '']);
    for (const flag of ['-k, --kill', '-n, --name', '-p, --pid <PID>', '-s, --signal <SIGNAL>', '-T, --tpid <PID>', '-c, --comm <COMM>', '-x, --failed', '--json', '-v, --verbose']) {
      expect(s.stdout, flag).toContain(`  ${flag} `);
    }
    const k = await runCli('killsnoop', ['--help']);
    expect([k.code, k.stderr]).toEqual([0, '']);
    for (const flag of ['-x, --failed', '-p, --pid <PID>', '-T, --tpid <PID>', '-s, --signal <SIGNAL>', '--json']) {
      expect(k.stdout, flag).toContain(`  ${flag} `);
    }
  });
});
