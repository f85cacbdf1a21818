// The tcpretrans CLI as users run it: a child process writing into a pipe,
// stopped by a signal; the workload's flow is found by its ports.
import { it, expect, beforeAll } from 'vitest';
import { buildSynflood, startFlood } from './helpers.js';
import { expectJsonEvent, expectJsonLine } from '../../../test/support/json.js';
import { AS_NOBODY, errorLine, expectCleanExit, expectHelp, tool, stopAfterEach } from '../../../test/support/cli.js';

const BANNER = 'Tracing retransmits ... Hit Ctrl-C to end';
const HEADER = 'TIME     PID     IP LADDR:LPORT          T> RADDR:RPORT          STATE';
const CLI = tool(new URL('../dist/cli.js', import.meta.url));

let bin: string;
beforeAll(() => {
  bin = buildSynflood();
});
stopAfterEach();

it("BCC's columns: a SYN_SENT retransmit", async () => {
  const cli = await CLI.start([], (o) => o.startsWith(`${BANNER}\n${HEADER}\n`));
  const flood = await startFlood(bin, 4);
  const flow = `127.0.0.1:${flood.lport}`.padEnd(20) + ' R> ' + `127.0.0.1:${flood.port}`.padEnd(20) + ' SYN_SENT';
  const [row] = await cli.waitRows((l) => l.includes(flow), 1);
  expect(row).toMatch(/^\d\d:\d\d:\d\d \d+ +4  /);
  expect(row!.slice(8 + 1 + 7 + 1 + 2 + 1)).toBe(flow);
  expectCleanExit(await cli.stop());
});

it('-c: the flow and its count at Ctrl-C (IPv6)', async () => {
  const cli = await CLI.start(['-c', '-6'], BANNER);
  const counted = await CLI.start(['-c', '--json'], { links: 1 });
  const json = await CLI.start(['--json'], { links: 1 });
  const flood = await startFlood(bin, 6);
  // the retransmit has happened once --json shows it
  await json.waitOutput((o) => o.includes(`"lport":${flood.lport},"raddr":"::1","rport":${flood.port}`));
  flood.proc.kill('SIGKILL');
  await flood.proc.done;
  const end = await cli.stop();
  expectCleanExit(end);
  const line = end.stdout.split('\n').find((l) => l.startsWith(`[::1]#${flood.lport} `))!;
  expect(line).toMatch(new RegExp(`^\\[::1\\]#${flood.lport} +<-> \\[::1\\]#${flood.port} +\\d+$`));
  expect(Number(line.split(/\s+/).at(-1))).toBeGreaterThan(0);
  expect(end.stdout).toContain('\nLADDR:LPORT               RADDR:RPORT               RETRANSMITS\n');
  const o = expectJsonEvent(json.lines().find((l) => l.includes(`"lport":${flood.lport}`))!, { skaddr: expect.any(String), pid: expect.any(Number), family: 6, laddr: '::1', lport: flood.lport, raddr: '::1', rport: flood.port, state: 'SYN_SENT', type: 'R' });
  expect(o.skaddr).toMatch(/^\d+$/); // a kernel address: 64 bits, a decimal string
  expectCleanExit(await json.stop());
  // -c --json: one object per flow, at the end
  const c = await counted.stop();
  expectCleanExit(c);
  const flow = c.stdout.split('\n').filter(Boolean).map((l) => expectJsonLine(l) as any).find((f) => f.lport === flood.lport && f.rport === flood.port);
  expect(flow).toMatchObject({ family: 6, laddr: '::1', raddr: '::1' });
  expect(flow.retransmits).toBeGreaterThan(0);
});

it.each([
  [['-l'], /-l: this kernel has no tracepoint at tcp_send_loss_probe/],
  [['-4', '-6'], /cannot be used with/],
  [['-x'], /unknown option/],
])('%j: one line, exit 2', async (args, msg) => {
  expect(errorLine(await CLI.run(args), 2)).toMatch(msg);
});

it('not root: one line, exit 1', async () => {
  expect(errorLine(await CLI.run([], { wrap: AS_NOBODY }), 1)).toMatch(/^tcpretrans: .*root/);
});

it('--help: exit 0, every flag listed', async () => {
  expectHelp(await CLI.run(['--help']), 'Usage: tcpretrans [options]', ['-l, --lossprobe', '-c, --count', '-4, --ipv4', '-6, --ipv6', '--json', '-v, --verbose', '-h, --help']);
});
