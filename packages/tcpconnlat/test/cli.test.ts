// The tcpconnlat CLI as users run it: a child process writing into a pipe,
// stopped by a signal; rows are found by the workload's PID (-p) or ports.
import { describe, it, expect } from 'vitest';
import { CLIENT_COMM, buildBins, gatedConnect } from './helpers.js';
import { expectJsonEvent } from '../../../test/support/json.js';
import { AS_NOBODY, errorLine, expectCleanExit, expectHelp, tool, stopAfterEach } from '../../../test/support/cli.js';
import { builtBeforeAll } from '../../../test/support/once.js';

const HEADER = 'PID     COMM         IP SADDR            DADDR            DPORT LAT(ms)';
const HEADER_TL = 'TIME(s)  PID     COMM         IP SADDR            LPORT  DADDR            DPORT LAT(ms)';
const CLI = tool(new URL('../dist/cli.js', import.meta.url));

const bins = builtBeforeAll(buildBins);
stopAfterEach();

const l = (v: string | number, w: number) => String(v).padEnd(w);
const LAT = /^\d+\.\d\d$/;

describe('rows', () => {
  it("BCC's columns, -p: the client's connect only", async () => {
    const conn = await gatedConnect(bins, 4);
    const cli = await CLI.start(['-p', String(conn.pid)], HEADER);
    await conn.go();
    const row = await cli.row(conn.pid);
    const prefix = `${l(conn.pid, 7)} ${l(CLIENT_COMM.slice(0, 12), 12)} 4  ${l('127.0.0.1', 16)} ${l('127.0.0.1', 16)} ${l(conn.port, 5)} `;
    expect(row.startsWith(prefix)).toBe(true);
    expect(row.slice(prefix.length)).toMatch(LAT);
    const end = await cli.stop();
    expectCleanExit(end);
    expect(cli.lines()).toEqual([HEADER, row]);
  });

  it('-t -L: TIME(s) and LPORT columns, IPv6', async () => {
    const conn = await gatedConnect(bins, 6);
    const cli = await CLI.start(['-t', '-L', '-p', String(conn.pid)], HEADER_TL);
    const lport = await conn.go();
    const row = await cli.row((x) => x.includes(` ${conn.pid} `) || x.startsWith(`0.000    ${conn.pid} `));
    const prefix = `0.000    ${l(conn.pid, 7)} ${l(CLIENT_COMM.slice(0, 12), 12)} 6  ${l('::1', 16)} ${l(lport, 6)} ${l('::1', 16)} ${l(conn.port, 5)} `;
    expect(row.startsWith(prefix)).toBe(true);
    expect(row.slice(prefix.length)).toMatch(LAT);
    expectCleanExit(await cli.stop());
  });

  it('--json: one object per connect', async () => {
    const conn = await gatedConnect(bins, 4);
    const cli = await CLI.start(['--json', '-p', String(conn.pid)], { links: 1 });
    const lport = await conn.go();
    await cli.waitOutput((o) => o.includes('\n'));
    const o = expectJsonEvent(cli.lines()[0]!, { pid: conn.pid, comm: CLIENT_COMM, family: 4, saddr: '127.0.0.1', lport, daddr: '127.0.0.1', dport: conn.port, latNs: expect.any(Number), refused: false });
    expect(o.latNs).toBeGreaterThan(0);
    expectCleanExit(await cli.stop());
  });
});

describe('bad input', () => {
  it.each([
    [['abc'], /invalid min_ms value 'abc'/],
    [['-1'], /unknown option '-1'|invalid min_ms/],
    [['-4', '-6'], /cannot be used with/],
    [['-p', 'x'], /-p/],
  ])('%j: one line, exit 2', async (args, msg) => {
    expect(errorLine(await CLI.run(args), 2)).toMatch(msg);
  });
});

it('not root: one line, exit 1', async () => {
  expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^tcpconnlat: .*root/);
});

it('--help: exit 0, every flag listed', async () => {
  expectHelp(await CLI.run(['--help']), 'Usage: tcpconnlat [options] [min_ms]', ['-t, --timestamp', '-p, --pid <PID>', '-L, --lport', '-4, --ipv4', '-6, --ipv6', '--json', '-v, --verbose', '-h, --help']);
});
