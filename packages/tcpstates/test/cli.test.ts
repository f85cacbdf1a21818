// The tcpstates CLI as users run it: a child process, output into a pipe,
// stopped by a signal. Rows are matched by the workload's ports (the machine
// may carry other TCP traffic at the same time).
import { existsSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import {
  CLIENT_COMM, LOOPBACK, SERVER_COMM, buildBins, runSession, runStorm, startClient, startServer,
  type Family, type SessionRun,
} from './helpers.js';
import { expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, Cli, errorLine, expectCleanExit, expectHelp, throughHead, tool, stopAfterEach } from '../../../test/support/cli.js';
import { bpfLinks } from '../../../test/support/bpf.js';
import { DEADLINE, sleep, waitFor } from '../../../test/support/wait.js';
import { hasCommand, run, start } from '../../../test/support/workload.js';
import { builtBeforeAll } from '../../../test/support/once.js';

const HEADER = 'SKADDR           C-PID C-COMM     LADDR           LPORT RADDR           RPORT OLDSTATE    -> NEWSTATE    MS';
const HEADER_WIDE = 'SKADDR           C-PID C-COMM           IP LADDR                      LPORT RADDR                      RPORT OLDSTATE    -> NEWSTATE    MS';
const HEADER_CSV = 'SKADDR,C-PID,C-COMM,IP,LADDR,LPORT,RADDR,RPORT,OLDSTATE,NEWSTATE,MS';
const CLI = tool(new URL('../dist/cli.js', import.meta.url));

const bins = builtBeforeAll(buildBins);
stopAfterEach();

const l = (v: string | number, w: number) => String(v).padEnd(w);

/** One change a test expects: who, where, which move. */
interface Change {
  pid: number;
  comm: string;
  family: Family;
  lport: number;
  raddr: string;
  rport: number;
  old: string;
  new: string;
}

/** Every change of both sockets of a session where the client closes first (IPv4) or the server does (IPv6). */
function changesOf(run: SessionRun, family: Family, closer: 'client' | 'server', listenerSeen = true): Change[] {
  const a = LOOPBACK[family];
  const c = (old: string, nu: string, lport = run.client.lport): Change => ({ pid: run.client.pid, comm: CLIENT_COMM, family, lport, raddr: a, rport: run.server.port, old, new: nu });
  const s = (old: string, nu: string): Change => ({ pid: run.server.pid, comm: SERVER_COMM, family, lport: run.server.port, raddr: a, rport: run.client.lport, old, new: nu });
  const active = ['ESTABLISHED', 'FIN_WAIT1', 'FIN_WAIT2', 'CLOSE'];
  const passive = ['ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSE'];
  const path = (side: typeof c | typeof s, states: string[]) => states.slice(1).map((st, i) => side(states[i]!, st));
  // Before accept(), a server socket is its listener's; a listener from before the trace is not known: pid 0, "?"
  const q = (x: Change): Change => (listenerSeen ? x : { ...x, pid: 0, comm: '?' });
  return [
    c('CLOSE', 'SYN_SENT', 0), c('SYN_SENT', 'ESTABLISHED'), q(s('LISTEN', 'SYN_RECV')), q(s('SYN_RECV', 'ESTABLISHED')),
    ...path(c, closer === 'client' ? active : passive), ...path(s, closer === 'client' ? passive : active),
  ];
}

// BCC's rows without SKADDR and MS (checked by shape):
//   "%-16x %-5d %-10.10s %s%-15s %-5d %-15s %-5d %-11s -> %-11s %.3f"
//   "%-16x %-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %-11s -> %-11s %.3f"
//   "%x,%d,%s,%s,%s,%s,%s,%d,%s,%s,%.3f"
const bccRow = (x: Change) =>
  `${l(x.pid, 5)} ${l(x.comm.slice(0, 10), 10)} ${l(LOOPBACK[x.family], 15)} ${l(x.lport, 5)} ${l(x.raddr, 15)} ${l(x.rport, 5)} ${l(x.old, 11)} -> ${l(x.new, 11)} `;
const bccWide = (x: Change) =>
  `${l(x.pid, 5)} ${l(x.comm.slice(0, 16), 16)} ${l(x.family, 2)} ${l(LOOPBACK[x.family], 26)} ${l(x.lport, 5)} ${l(x.raddr, 26)} ${l(x.rport, 5)} ${l(x.old, 11)} -> ${l(x.new, 11)} `;
const bccCsv = (x: Change) => `${x.pid},${x.comm},${x.family},${LOOPBACK[x.family]},${x.lport},${x.raddr},${x.rport},${x.old},${x.new},`;

/** The row of change `x` in a layout: its ports and states (the same socket pair has one row per move). */
const isRow = (x: Change, body: (x: Change) => string) => (row: string) => row.includes(body(x).slice(body(x).indexOf(LOOPBACK[x.family])));

/** SKADDR then the body then MS; returns [skaddr, ms]. */
function expectRow(row: string, x: Change, body: (x: Change) => string, sep = ' '): [string, string] {
  const sk = row.slice(0, row.indexOf(sep));
  expect(sk, row).toMatch(/^[0-9a-f]{16}$/);
  const rest = row.slice(sk.length + 1); // %-16x: a kernel address fills it
  expect(rest.slice(0, body(x).length), row).toBe(body(x));
  const ms = rest.slice(body(x).length);
  expect(ms, row).toMatch(/^\d+\.\d{3}$/);
  return [sk, ms];
}

describe('output format', () => {
  it('default, -w, -s, -T -t and --json on the same changes (IPv4 and IPv6)', async () => {
    const clis = (await Promise.all([
      CLI.start([], HEADER),
      CLI.start(['-w'], HEADER_WIDE),
      CLI.start(['-s'], HEADER_CSV),
      CLI.start(['-T', '-t'], `TIME     TIME(s)   ${HEADER}`),
      CLI.start(['-stT'], `TIME,TIME(s),${HEADER_CSV}`),
    ])) as [Cli, Cli, Cli, Cli, Cli];
    const [def, wide, csv, tt, csvtt] = clis;
    const json = CLI.spawn(['--json']);
    await json.waitReady({ links: 3 });
    await sleep(200); // its reader is polling (links are attached before the first read)
    const run4 = await runSession(bins, { family: 4, send: 1, reply: 1, closer: 'client', sleepMs: 100 });
    const run6 = await runSession(bins, { family: 6, send: 1, reply: 1, closer: 'server', sleepMs: 100 });
    const changes = [...changesOf(run4, 4, 'client'), ...changesOf(run6, 6, 'server')];

    for (const x of changes) {
      const [sk, ms] = expectRow(await def.row(isRow(x, bccRow)), x, bccRow);
      // the first change of a socket has no span: 0.000, as BCC
      if (x.old === 'CLOSE' || x.old === 'LISTEN') expect(ms).toBe('0.000');
      // a time in a state: the client slept 100 ms before closing (IPv4); the server did (IPv6)
      if (x.old === 'ESTABLISHED' && (x.new === 'FIN_WAIT1' || x.new === 'CLOSE_WAIT')) expect(Number(ms)).toBeGreaterThanOrEqual(100);
      expect(expectRow(await wide.row(isRow(x, bccWide)), x, bccWide)[0]).toBe(sk);
      expect(expectRow(await csv.row(isRow(x, bccCsv)), x, bccCsv, ',')[0]).toBe(sk);
      const t = await tt.row(isRow(x, bccRow));
      expect(t.slice(0, 19)).toMatch(/^\d\d:\d\d:\d\d \d+\.\d{6} +$/);
      expect(expectRow(t.slice(19), x, bccRow)[0]).toBe(sk);
      const ct = await csvtt.row(isRow(x, bccCsv));
      expect(ct).toMatch(/^\d\d:\d\d:\d\d,\d+\.\d{6},/);
      expect(expectRow(ct.split(',').slice(2).join(','), x, bccCsv, ',')[0]).toBe(sk);

      const line = await json.row((j) => j.includes(`"lport":${x.lport},`) && j.includes(`"rport":${x.rport},`) && j.includes(`"oldState":"${x.old}","newState":"${x.new}"`));
      const ev = expectJsonLine(line) as any;
      const { spanNs, ...rest } = ev;
      expect(rest).toEqual({
        time: ev.time, elapsed: ev.elapsed, timestamp: ev.timestamp, skaddr: ev.skaddr, pid: x.pid, comm: x.comm, owner: ev.owner, family: x.family,
        laddr: LOOPBACK[x.family], lport: x.lport, raddr: x.raddr, rport: x.rport, oldState: x.old, newState: x.new,
      });
      expect(BigInt(ev.skaddr).toString(16)).toBe(sk); // 64 bits, exact
      expect(['task', 'accept', 'listener']).toContain(ev.owner);
      expect(Math.abs(Date.parse(ev.time) - Date.now())).toBeLessThan(60_000);
      if (x.old === 'CLOSE' || x.old === 'LISTEN') expect('spanNs' in ev).toBe(false); // not known: absent, as in the API
      else expect(spanNs).toBeGreaterThan(0);
    }
    // -t counts from the first change printed
    expect(tt.lines()[1]!.slice(9, 19)).toBe('0.000000  ');
    const results = await Promise.all([...clis, json].map((c) => c.stop()));
    results.forEach(expectCleanExit);
  }, 40_000);
});

describe('filters', () => {
  it('-L, -D, -4, -6', async () => {
    const spec4 = { family: 4 as const, send: 1, reply: 1, closer: 'client' as const, sleepMs: 0 };
    const sv4 = await startServer(bins, spec4);
    const sv6 = await startServer(bins, { ...spec4, family: 6 });
    const [byL, byD, v4, v6] = (await Promise.all([
      CLI.start(['-L', `1,${sv4.port}`], HEADER),
      CLI.start(['-D', String(sv6.port)], HEADER),
      CLI.start(['-4'], HEADER),
      CLI.start(['-6', '-w'], HEADER_WIDE),
    ])) as [Cli, Cli, Cli, Cli];
    const c4 = startClient(bins, spec4, sv4.port);
    const c6 = startClient(bins, { ...spec4, family: 6 }, sv6.port);
    const lport4 = Number((await c4.proc.line('client ')).split(' ')[1]);
    const lport6 = Number((await c6.proc.line('client ')).split(' ')[1]);
    await Promise.all([sv4.proc.done, sv6.proc.done, c4.proc.done, c6.proc.done]);
    const run4 = { server: { pid: sv4.proc.pid, port: sv4.port }, client: { pid: c4.proc.pid, lport: lport4 } };
    const run6 = { server: { pid: sv6.proc.pid, port: sv6.port }, client: { pid: c6.proc.pid, lport: lport6 } };
    const ch4 = changesOf(run4, 4, 'client', false);
    const ch6 = changesOf(run6, 6, 'client', false);
    // -L: the server socket's changes and the listener's close (its local port); -D: the client's
    for (const x of ch4.filter((x) => x.lport === sv4.port)) expectRow(await byL.row(isRow(x, bccRow)), x, bccRow);
    await byL.row((r) => r.includes(` ${l(sv4.port, 5)} 0.0.0.0         0     LISTEN      -> CLOSE `));
    for (const x of ch6.filter((x) => x.rport === sv6.port)) expectRow(await byD.row(isRow(x, bccRow)), x, bccRow);
    for (const x of ch4) expectRow(await v4.row(isRow(x, bccRow)), x, bccRow);
    for (const x of ch6) expectRow(await v6.row(isRow(x, bccWide)), x, bccWide);
    // one more session: anything let through by mistake would be printed by then
    await runSession(bins, spec4);
    await sleep(300);
    const results = await Promise.all([byL, byD, v4, v6].map((c) => c.stop()));
    results.forEach(expectCleanExit);
    const rows = results.map((e) => e.stdout.split('\n').filter(Boolean).slice(1));
    const [pL, pD, p4, p6] = rows as [string[], string[], string[], string[]];
    expect(pL.every((r) => r.split(/ +/)[4] === String(sv4.port))).toBe(true);
    expect(pL).toHaveLength(6); // 5 server-socket changes and the listener's LISTEN -> CLOSE
    expect(pD.every((r) => r.split(/ +/)[6] === String(sv6.port))).toBe(true);
    expect(pD).toHaveLength(5);
    for (const r of p4) expect(r.split(/ +/)[3]).not.toContain(':');
    for (const r of p6) expect(r.split(/ +/)[4]).toContain(':');
  }, 40_000);
});

describe('-Y: the systemd journal', () => {
  const JOURNALD = '/lib/systemd/systemd-journald';
  const canRun = existsSync(JOURNALD) && hasCommand('unshare') && hasCommand('nsenter') && hasCommand('journalctl') && existsSync('/run/systemd');

  it.skipIf(!canRun)("each change is an entry: BCC's message, identifier tcpstates, priority 5; rows still printed", async () => {
    // A journald of our own in a private mount namespace: tmpfs over /run
    // (its sockets, its runtime journal) and /var/log/journal; tcpstates -Y
    // runs in that namespace, and nothing is written outside it.
    const jd = start('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      `mount -t tmpfs tmpfs /run && { [ ! -d /var/log/journal ] || mount -t tmpfs tmpfs /var/log/journal; } && mkdir -p /run/systemd/journal && exec ${JOURNALD}`]);
    const inNs = (cmd: string[]) => run('nsenter', ['-t', String(jd.pid), '-m', ...cmd]);
    expect(await waitFor(() => existsSync(`/proc/${jd.pid}/root/run/systemd/journal/stdout`), DEADLINE.start)).toBe(true);
    const spec = { family: 4 as const, send: 1, reply: 1, closer: 'client' as const, sleepMs: 0 };
    const sv = await startServer(bins, spec);
    const cli = await CLI.start(['-Y', '-L', String(sv.port)], HEADER, { wrap: ['nsenter', '-t', String(jd.pid), '-m'] });
    const cl = startClient(bins, spec, sv.port);
    const lport = Number((await cl.proc.line('client ')).split(' ')[1]);
    await Promise.all([sv.proc.done, cl.proc.done]);
    const mine = changesOf({ server: { pid: sv.proc.pid, port: sv.port }, client: { pid: cl.proc.pid, lport } }, 4, 'client', false).filter((x) => x.lport === sv.port);
    for (const x of mine) expectRow(await cli.row(isRow(x, bccRow)), x, bccRow);
    await cli.row((r) => r.includes('LISTEN      -> CLOSE '));
    expectCleanExit(await cli.stop());
    // journald reads the stream on its own time: wait for the entries
    let entries: Array<Record<string, string>> = [];
    await waitFor(async () => {
      const { stdout } = await inNs(['journalctl', '-t', 'tcpstates', '-o', 'json', '--no-pager']);
      entries = stdout.split('\n').filter((j) => j.startsWith('{')).map((j) => JSON.parse(j));
      return entries.length >= mine.length + 1;
    }, DEADLINE.output, 100);
    jd.kill('SIGTERM');
    await jd.done;
    // one entry per row, in the same order, with BCC's message
    const rows = cli.lines().slice(1).map((r) => r.split(/ +/));
    expect(rows).toHaveLength(mine.length + 1);
    expect(entries.map((e) => e.MESSAGE)).toEqual(rows.map((f) => `${f[2]} ${f[3]} ${f[4]} → ${f[5]} ${f[6]} ${f[7]} → ${f[9]}`));
    expect(entries.map((e) => e.MESSAGE)).toContain(`${SERVER_COMM} 127.0.0.1 ${sv.port} → 0.0.0.0 0 LISTEN → CLOSE`);
    for (const e of entries) expect([e.SYSLOG_IDENTIFIER, e.PRIORITY]).toEqual(['tcpstates', '5']);
  }, 40_000);

  it.skipIf(!hasCommand('unshare') || !existsSync('/run/systemd'))('no journald: exit 1, one line, before tracing', async () => {
    const e = await CLI.run(['-Y'], { wrap: ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /run/systemd && exec "$@"', 'sh'] });
    expect(errorLine(e, 1)).toBe('tcpstates: -Y: the systemd journal is not running here (no /run/systemd/journal/stdout)');
  });
});

describe('beside libbpf-tools tcpstates', () => {
  const REF = '/usr/sbin/tcpstates';
  it.skipIf(!existsSync(REF))('the same changes of the same sockets (SKADDR, ports, states)', async () => {
    const ours = await CLI.start([], HEADER);
    const ref = start(REF, [], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(await waitFor(() => bpfLinks(ref.pid) > 0, DEADLINE.start)).toBe(true);
    await sleep(300); // its perf buffer poll loop
    const run = await runSession(bins, { family: 4, send: 1, reply: 1, closer: 'server', sleepMs: 0 });
    // both: SKADDR PID COMM LADDR LPORT RADDR RPORT OLDSTATE -> NEWSTATE MS; kept: SKADDR LPORT RPORT OLD NEW,
    // sorted (libbpf-tools reads per-CPU perf buffers: its order across CPUs is not the kernel's)
    const pick = (rows: string[]) =>
      rows
        .map((r) => r.trim().split(/ +/))
        .filter((f) => f[4] === String(run.server.port) || f[6] === String(run.server.port))
        .map((f) => [f[0], f[4], f[6], f[7], f[9]].join(' '))
        .sort();
    await ours.waitOutput(() => pick(ours.lines()).filter((r) => r.endsWith(' CLOSE')).length >= 3);
    const e = await ours.stop();
    ref.proc.kill('SIGINT');
    const r = await ref.done;
    expect(r.code).toBe(0);
    const theirs = pick(r.stdout.split('\n').slice(1).filter(Boolean));
    expect(theirs).toHaveLength(12); // the listener's 2 changes, 5 of each connected socket
    expect(pick(e.stdout.split('\n').slice(1).filter(Boolean))).toEqual(theirs);
  });
});

describe('ending the run', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: every change before the signal is printed (piped output is flushed)`, async () => {
      const cli = await CLI.start(['-s'], HEADER_CSV);
      const storm = await runStorm(bins, 300, 10);
      const e = await cli.stop(signal); // at once: the last rows are still buffered
      expectCleanExit(e);
      const f = e.stdout.split('\n').map((x) => x.split(','));
      const closes = f.filter((x) => (x[5] === String(storm.port) || x[7] === String(storm.port)) && x[9] === 'CLOSE');
      expect(closes).toHaveLength(601); // both sides of 300 connections, and the listener
      expect(closes.filter((x) => x[1] === String(storm.serverPid) && x[5] === String(storm.port) && x[8] !== 'LISTEN')).toHaveLength(300);
      expect(closes.filter((x) => x[1] === String(storm.clientPid) && x[7] === String(storm.port))).toHaveLength(300);
    });
  }

  it('a closed pipe (| head -n 2) ends the run by itself, status 0, no stack trace', async () => {
    const p = await throughHead(CLI.path, [], () => runStorm(bins, 5, 1), { everyMs: 100 });
    expect(p.ended).toBe(true);
    expect(p.status).toEqual([0, null]);
    const lines = p.out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(HEADER);
    expect(lines[1]).toMatch(/^[0-9a-f]+ +\d+ +.{10} \S+ +\d+ +\S+ +\d+ +[A-Z_0-9]+ +-> [A-Z_0-9]+ +\d+\.\d{3}$/);
    expect(lines[2]).toBe('');
    expect(p.stderr).toBe('');
  });
});

describe('errors and help', () => {
  const bad = [['--bogus'], ['-L'], ['-L', 'x'], ['-L', ''], ['-L', '80,,81'], ['-L', '70000'], ['-D', '0'], ['-D', '80;81'], ['-4', '-6'], ['-p', '1'], ['extra']];
  for (const args of bad) {
    it(`bad usage ${JSON.stringify(args.join(' '))}: exit 2, one line on stderr`, async () => {
      expect(errorLine(await CLI.run(args), 2)).toMatch(/^tcpstates: \S/);
    });
  }

  it('not root: exit 1, one line saying root is needed', async () => {
    expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^tcpstates: .*root/);
  });

  it('--help: exit 0, every flag listed', async () => {
    expectHelp(await CLI.run(['--help']), 'Usage: tcpstates [options]', ['-T, --time', '-t, --timestamp', '-w, --wide', '-s, --csv', '-L, --localport <LPORTS>', '-D, --remoteport <RPORTS>', '-Y, --journal', '-4, --ipv4', '-6, --ipv6', '--json', '-h, --help']);
  });
});
