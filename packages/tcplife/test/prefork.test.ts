// Attribution with a prefork server (test/c/prefork.c): the parent listens,
// forked workers accept. A server session belongs to the worker that
// accept()ed it, also when the client resets it (then no state change ever
// happens in the worker's system call: before the accept hooks, tcplife named
// the parent, the listener, for those). Sessions matched by the run's port.
import { describe, it, expect } from 'vitest';
import { type TcpSession } from '../src/index.js';
import { LOOPBACK, buildBins, capture, runPrefork, type PreforkRun } from './helpers.js';
import { expectCleanExit, tool, stopAfterEach } from '../../../test/support/cli.js';
import { builtBeforeAll } from '../../../test/support/once.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url));
const HEADER = 'PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS';

const bins = builtBeforeAll(buildBins);
stopAfterEach();

const server = (r: PreforkRun) => (s: TcpSession) => s.lport === r.port;
const client = (r: PreforkRun) => (s: TcpSession) => s.rport === r.port;

/** Every session of a run: each server side under its own worker, each client side under the parent. */
function expectWorkers(r: PreforkRun, sessions: TcpSession[], owner: 'accept' | 'task'): void {
  const servers = sessions.filter(server(r));
  expect(servers.map((s) => s.rport).sort()).toEqual([...r.clients].sort());
  for (const s of servers) {
    expect([s.pid, s.comm, s.owner, s.active]).toEqual([r.workerOf.get(s.rport), 'pf-worker', owner, false]);
    expect(s.pid).not.toBe(r.masterPid);
  }
  // one worker per connection: the owner is the accepting process, not the one that forked
  expect(new Set(servers.map((s) => s.pid)).size).toBe(r.clients.length);
  const clients = sessions.filter(client(r));
  expect(clients.map((s) => s.lport).sort()).toEqual([...r.clients].sort());
  for (const s of clients) expect([s.pid, s.comm, s.owner, s.active]).toEqual([r.masterPid, 'pf-master', 'task', true]);
}

describe('prefork server: the worker that accept()ed owns the session', () => {
  it('reset by the client (IPv4): each server session under its worker (owner accept)', async () => {
    const c = capture();
    try {
      const r = await runPrefork(bins.prefork, 4, 3, 'reset');
      await c.waitForCount((s) => server(r)(s) || client(r)(s), 6);
      expectWorkers(r, c.events, 'accept');
    } finally {
      c.close();
    }
  });

  it('closed by the client (IPv6): the worker closes it in a system call (owner task)', async () => {
    const c = capture();
    try {
      const r = await runPrefork(bins.prefork, 6, 2, 'close');
      await c.waitForCount((s) => server(r)(s) || client(r)(s), 4);
      expectWorkers(r, c.events, 'task');
    } finally {
      c.close();
    }
  });

  it('never accepted (reset while queued): the listener fallback names the parent', async () => {
    const c = capture();
    try {
      const r = await runPrefork(bins.prefork, 4, 0, 'reset');
      const [s] = await c.waitForCount(server(r), 1);
      expect([s!.pid, s!.comm, s!.owner, s!.rport]).toEqual([r.masterPid, 'pf-master', 'listener', r.clients[0]]);
    } finally {
      c.close();
    }
  });

  it('the CLI prints the worker PID and comm on each server row', async () => {
    const cli = await CLI.start([], HEADER);
    const r = await runPrefork(bins.prefork, 4, 2, 'reset');
    const a = LOOPBACK[4];
    for (const port of r.clients) {
      const row = await cli.row((x) => x.includes(` ${a.padEnd(15)} ${String(r.port).padEnd(5)} ${a.padEnd(15)} ${String(port).padEnd(5)} `));
      expect(row.startsWith(`${String(r.workerOf.get(port)).padEnd(5)} pf-worker  `), row).toBe(true);
    }
    expectCleanExit(await cli.stop());
  });
});
