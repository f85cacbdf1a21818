// The tcplife CLI as users run it: a child process, output into a pipe,
// stopped by a signal. Rows are matched by the workload's ports and PIDs (the
// machine may carry other TCP traffic at the same time).
import { describe, it, expect } from 'vitest';
import {
  CLIENT_COMM, SERVER_COMM, LOOPBACK, buildBins, runRefused, runSession, runStorm, startClient, startServer,
  type Family, type SessionRun,
} from './helpers.js';
import { expectJsonEvent } from '../../../test/support/json.js';
import { AS_NOBODY, Cli, errorLine, expectCleanExit, expectHelp, throughHead, tool, stopAfterEach } from '../../../test/support/cli.js';
import { DEADLINE, sleep } from '../../../test/support/wait.js';
import { builtBeforeAll } from '../../../test/support/once.js';

const HEADER = 'PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS';
const HEADER_WIDE = 'PID   COMM             IP LADDR                      LPORT RADDR                      RPORT  TX_KB  RX_KB MS';
const HEADER_CSV = 'PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS';
const CLI = tool(new URL('../dist/cli.js', import.meta.url));

const bins = builtBeforeAll(buildBins);
stopAfterEach();

const l = (v: string | number, w: number) => String(v).padEnd(w);
const r = (v: string | number, w: number) => String(v).padStart(w);

interface Side {
  pid: number;
  comm: string;
  family: Family;
  lport: number;
  rport: number;
  tx: number;
  rx: number;
}

/** A one-byte session; what --json prints for it. */
const probeSession = async () =>
  `"lport":${(await runSession(bins, { family: 4, send: 1, reply: 1, closer: 'client', sleepMs: 0 })).client.lport},`;

const sides = (run: SessionRun, family: Family, send: number, reply: number): { client: Side; server: Side } => ({
  client: { pid: run.client.pid, comm: CLIENT_COMM, family, lport: run.client.lport, rport: run.server.port, tx: send, rx: reply },
  server: { pid: run.server.pid, comm: SERVER_COMM, family, lport: run.server.port, rport: run.client.lport, tx: reply, rx: send },
});

// BCC's rows without MS (printed by BCC as "%.2f"; checked separately):
//   "%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d "
//   "%-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %6d %6d "
//   "%d,%s,%s,%s,%s,%s,%d,%d,%d,"
function bccRow(s: Side): string {
  const a = LOOPBACK[s.family];
  return `${l(s.pid, 5)} ${l(s.comm.slice(0, 10), 10)} ${l(a, 15)} ${l(s.lport, 5)} ${l(a, 15)} ${l(s.rport, 5)} ${r(Math.floor(s.tx / 1024), 5)} ${r(Math.floor(s.rx / 1024), 5)} `;
}
function bccWide(s: Side): string {
  const a = LOOPBACK[s.family];
  return `${l(s.pid, 5)} ${l(s.comm.slice(0, 16), 16)} ${l(s.family, 2)} ${l(a, 26)} ${l(s.lport, 5)} ${l(a, 26)} ${l(s.rport, 5)} ${r(Math.floor(s.tx / 1024), 6)} ${r(Math.floor(s.rx / 1024), 6)} `;
}
function bccCsv(s: Side): string {
  const a = LOOPBACK[s.family];
  return `${s.pid},${s.comm},${s.family},${a},${s.lport},${a},${s.rport},${Math.floor(s.tx / 1024)},${Math.floor(s.rx / 1024)},`;
}

/** Rows of session side `s`, by its address and port columns (default, -w, -s layouts). */
const has = (s: Side) => (x: string) => {
  const a = LOOPBACK[s.family];
  return x.includes(` ${l(a, 15)} ${l(s.lport, 5)} ${l(a, 15)} ${l(s.rport, 5)} `);
};
const hasWide = (s: Side) => (x: string) => {
  const a = LOOPBACK[s.family];
  return x.includes(` ${l(a, 26)} ${l(s.lport, 5)} ${l(a, 26)} ${l(s.rport, 5)} `);
};
const hasCsv = (s: Side) => (x: string) => {
  const a = LOOPBACK[s.family];
  return x.includes(`,${a},${s.lport},${a},${s.rport},`);
};

/** MS as printed: two decimals, at least `min` ms, and less than 10 s. */
function expectMs(text: string, min: number): void {
  expect(text).toMatch(/^\d+\.\d\d$/);
  expect(Number(text)).toBeGreaterThanOrEqual(min);
  expect(Number(text)).toBeLessThan(10_000);
}

const SEND = 300_000;
const REPLY = 50_000;

describe('output format', () => {
  it('default, -w, -s, -T -t and --json on the same sessions (IPv4 and IPv6); a refused connection prints nothing', async () => {
    const clis = await Promise.all([
      CLI.start([], HEADER),
      CLI.start(['-w'], HEADER_WIDE),
      CLI.start(['-s'], HEADER_CSV),
      CLI.start(['-T', '-t'], `TIME     TIME(s)   ${HEADER}`),
      CLI.start(['-stT'], `TIME,TIME(s),${HEADER_CSV}`),
      CLI.start(['-w', '-T'], `TIME     ${HEADER_WIDE}`),
    ]);
    const [def, wide, csv, tt, csvtt, wideT] = clis as [Cli, Cli, Cli, Cli, Cli, Cli];
    const json = CLI.spawn(['--json']);
    // No header in JSON mode: run a session until it shows up.
    await json.waitProbe(probeSession, DEADLINE.start, 300);
    const t0 = Date.now();
    const refused = await runRefused(bins, 4);
    const run4 = await runSession(bins, { family: 4, send: SEND, reply: REPLY, closer: 'client', sleepMs: 200 });
    const run6 = await runSession(bins, { family: 6, send: SEND, reply: REPLY, closer: 'server', sleepMs: 200 });
    const elapsed = (Date.now() - t0) / 1000;
    const all: Side[] = [];
    for (const [run, family] of [[run4, 4], [run6, 6]] as const) {
      const { client, server } = sides(run, family, SEND, REPLY);
      all.push(client, server);
    }

    for (const s of all) {
      let row = await def.row(has(s));
      expect(row.startsWith(bccRow(s)), `${row}\n${bccRow(s)}`).toBe(true);
      expectMs(row.slice(bccRow(s).length), 200);
      // the numbers exactly: 300000 / 1024 = 292.97, 50000 / 1024 = 48.83
      expect(row).toMatch(s.tx === SEND ? / {3}292 {4}48 \d/ : / {4}48 {3}292 \d/);

      row = await wide.row(hasWide(s));
      expect(row.startsWith(bccWide(s)), `${row}\n${bccWide(s)}`).toBe(true);
      expectMs(row.slice(bccWide(s).length), 200);

      row = await csv.row(hasCsv(s));
      expect(row.startsWith(bccCsv(s)), `${row}\n${bccCsv(s)}`).toBe(true);
      expectMs(row.slice(bccCsv(s).length), 200);

      row = await tt.row(has(s));
      expect(row.slice(0, 9)).toMatch(/^\d\d:\d\d:\d\d $/);
      expect(row.slice(9, 19)).toMatch(/^\d+\.\d{6} +$/);
      expect(row.slice(19).startsWith(bccRow(s))).toBe(true);

      row = await csvtt.row(hasCsv(s));
      expect(row).toMatch(/^\d\d:\d\d:\d\d,\d+\.\d{6},/);
      expect(row.split(',').slice(2).join(',').startsWith(bccCsv(s))).toBe(true);

      row = await wideT.row(hasWide(s));
      expect(row.slice(0, 9)).toMatch(/^\d\d:\d\d:\d\d $/);
      expect(row.slice(9).startsWith(bccWide(s))).toBe(true);

      const line = await json.row((x) => x.includes(`"lport":${s.lport},`) && x.includes(`"rport":${s.rport},`));
      const ev = expectJsonEvent(line, {
        pid: s.pid,
        comm: s.comm,
        owner: 'task',
        active: s.comm === CLIENT_COMM,
        family: s.family,
        laddr: LOOPBACK[s.family],
        lport: s.lport,
        raddr: LOOPBACK[s.family],
        rport: s.rport,
        txBytes: s.tx,
        rxBytes: s.rx,
        durationNs: expect.any(Number),
      });
      expect(Math.abs(Date.parse(ev.time) - t0)).toBeLessThan(10_000);
      expect(ev.durationNs).toBeGreaterThanOrEqual(200e6);
      expect(ev.durationNs).toBeLessThan(10_000e6);
    }

    // -t counts from the first session printed: 0.000000 there, then growing, bounded by the run
    const ts = tt.lines().slice(1).map((x) => Number(x.slice(9, 19)));
    expect(ts[0]).toBe(0);
    for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThanOrEqual(ts[i - 1]!);
    expect(ts.at(-1)!).toBeLessThan(elapsed + 20);

    const results = await Promise.all([...clis, json].map((c) => c.stop()));
    results.forEach(expectCleanExit);
    // the refused connection: no row anywhere
    for (const e of results) {
      for (const x of e.stdout.split('\n')) {
        expect(x.includes(` ${refused.port} `) || x.includes(`,${refused.port},`) || x.includes(`:${refused.port},`), x).toBe(false);
      }
    }
    // every data row of the default layout has BCC's shape
    for (const x of def.lines().slice(1)) expect(x, x).toMatch(/^\d+ +.{10} \S+ +\d+ +\S+ +\d+ +\d+ +\d+ \d+\.\d\d$/);
  }, 40_000);

  it('--json is exact for a session reset by the client, and the server row names the process that accept()ed it', async () => {
    const json = CLI.spawn(['--json']);
    await json.waitProbe(probeSession, DEADLINE.start, 300);
    const run = await runSession(bins, { family: 6, send: 3071, reply: 1023, closer: 'reset', sleepMs: 0 });
    const [line] = await json.waitRows((x) => x.includes(`"lport":${run.server.port},`), 1);
    const ev = JSON.parse(line);
    expect([ev.pid, ev.comm, ev.owner, ev.active, ev.family, ev.laddr, ev.raddr, ev.txBytes, ev.rxBytes]).toEqual([
      run.server.pid, SERVER_COMM, 'accept', false, 6, '::1', '::1', 1023, 3071,
    ]);
    expectCleanExit(await json.stop());
  });
});

describe('filters', () => {
  it('-p, -L, -D, -4, -6', async () => {
    const spec4 = { family: 4 as const, send: 4096, reply: 2048, closer: 'client' as const, sleepMs: 0 };
    const spec6 = { ...spec4, family: 6 as const };
    const sv4 = await startServer(bins, spec4);
    const sv6 = await startServer(bins, spec6);
    const gated = startClient(bins, { ...spec6, gated: true }, sv6.port);
    const [byPid, byServerPid, byL, byD, v4, v6] = await Promise.all([
      CLI.start(['-p', String(gated.proc.pid)], HEADER),
      CLI.start(['-p', String(sv4.proc.pid), '-w'], HEADER_WIDE),
      CLI.start(['-L', `1,${sv4.port},${sv6.port}`], HEADER),
      CLI.start(['-D', String(sv4.port)], HEADER),
      CLI.start(['-4'], HEADER),
      CLI.start(['-6', '-w'], HEADER_WIDE),
    ]) as [Cli, Cli, Cli, Cli, Cli, Cli];
    const c4 = startClient(bins, spec4, sv4.port);
    gated.go();
    const lport4 = Number((await c4.proc.line('client ')).split(' ')[1]);
    const lport6 = Number((await gated.proc.line('client ')).split(' ')[1]);
    await Promise.all([sv4.proc.done, sv6.proc.done, c4.proc.done, gated.proc.done]);
    const run4 = { server: { pid: sv4.proc.pid, port: sv4.port }, client: { pid: c4.proc.pid, lport: lport4 } };
    const run6 = { server: { pid: sv6.proc.pid, port: sv6.port }, client: { pid: gated.proc.pid, lport: lport6 } };
    const s4 = sides(run4, 4, 4096, 2048);
    const s6 = sides(run6, 6, 4096, 2048);

    expect((await byPid.row(has(s6.client))).startsWith(bccRow(s6.client))).toBe(true);
    expect((await byServerPid.row(hasWide(s4.server))).startsWith(bccWide(s4.server))).toBe(true);
    for (const s of [s4.server, s6.server]) expect((await byL.row(has(s))).startsWith(bccRow(s))).toBe(true);
    expect((await byD.row(has(s4.client))).startsWith(bccRow(s4.client))).toBe(true);
    for (const s of [s4.client, s4.server]) expect((await v4.row(has(s))).startsWith(bccRow(s))).toBe(true);
    for (const s of [s6.client, s6.server]) expect((await v6.row(hasWide(s))).startsWith(bccWide(s))).toBe(true);

    // one more session: anything the filters let through by mistake would be printed by then
    const later = await runSession(bins, spec4);
    await sleep(300);
    const results = await Promise.all([byPid, byServerPid, byL, byD, v4, v6].map((c) => c.stop()));
    results.forEach(expectCleanExit);
    const rows = results.map((e) => e.stdout.split('\n').filter(Boolean).slice(1));
    const [pPid, pServer, pL, pD, p4, p6] = rows as [string[], string[], string[], string[], string[], string[]];
    const mineOf = (xs: string[], sidesList: Side[]) => xs.filter((x) => sidesList.some((s) => has(s)(x) || hasWide(s)(x)));
    const everything = [s4.client, s4.server, s6.client, s6.server, ...Object.values(sides(later, 4, 4096, 2048))];
    expect(mineOf(pPid, everything)).toHaveLength(1);
    expect(pPid.every((x) => x.startsWith(`${l(gated.proc.pid, 5)} `))).toBe(true);
    expect(mineOf(pServer, everything)).toHaveLength(1);
    expect(pServer.every((x) => x.startsWith(`${l(sv4.proc.pid, 5)} `))).toBe(true);
    expect(mineOf(pL, everything)).toHaveLength(2);
    expect(mineOf(pD, everything)).toHaveLength(1);
    expect(mineOf(p4, everything)).toHaveLength(4); // both sides of run4 and of `later`
    expect(mineOf(p6, everything)).toHaveLength(2);
    for (const x of p4) expect(x).not.toContain('::');
    for (const x of p6) expect(x.split(/ +/)[3]).toContain(':');
  }, 40_000);
});

describe('ending the run', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: every session closed before the signal is printed (piped output is flushed)`, async () => {
      const cli = await CLI.start(['-s'], HEADER_CSV);
      const storm = await runStorm(bins, 300, 10);
      const e = await cli.stop(signal); // at once: the last rows are still buffered
      expectCleanExit(e);
      const rows = e.stdout.split('\n').filter((x) => x.split(',')[4] === String(storm.port) || x.split(',')[6] === String(storm.port));
      expect(rows).toHaveLength(600);
      expect(rows.filter((x) => x.startsWith(`${storm.serverPid},tcpstorm,4,127.0.0.1,${storm.port},`))).toHaveLength(300);
      expect(rows.filter((x) => x.startsWith(`${storm.clientPid},tcpstorm,4,127.0.0.1,`))).toHaveLength(300);
    });
  }

  it('a closed pipe (| head -n 2) ends the run by itself, status 0, no stack trace', async () => {
    const p = await throughHead(CLI.path, [], () => runStorm(bins, 20, 1), { everyMs: 100 });
    expect(p.ended).toBe(true);
    expect(p.status).toEqual([0, null]); // pipefail: node's own status too
    const lines = p.out.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(HEADER);
    expect(lines[1]).toMatch(/^\d+ +.{10} \S+ +\d+ +\S+ +\d+ +\d+ +\d+ \d+\.\d\d$/);
    expect(lines[2]).toBe('');
    expect(p.stderr).toBe('');
  });
});

describe('errors and help', () => {
  const bad = [
    ['--bogus'], ['-p'], ['-p', 'abc'], ['-p', '0'], ['-p', '-5'], ['-p', '4194305'], ['-L', 'x'], ['-L', ''], ['-L', '80,,81'],
    ['-L', '70000'], ['-D', '0'], ['-D', '80;81'], ['-4', '-6'], ['extra'],
  ];
  for (const args of bad) {
    it(`bad usage ${JSON.stringify(args.join(' '))}: exit 2, one line on stderr`, async () => {
      expect(errorLine(await CLI.run(args), 2)).toMatch(/^tcplife: \S/);
    });
  }

  it('not root: exit 1, one line saying root is needed', async () => {
    expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^tcplife: .*root/);
  });

  it('--help: exit 0, every flag listed', async () => {
    expectHelp(await CLI.run(['--help']), 'Usage: tcplife [options]', ['-T, --time', '-t, --timestamp', '-w, --wide', '-s, --csv', '-p, --pid <PID>', '-L, --localport <LPORTS>', '-D, --remoteport <RPORTS>', '-4, --ipv4', '-6, --ipv6', '--json', '-h, --help']);
  });
});
