// Attribution with a prefork server (tcplife's test/c/prefork.c): the parent
// listens, forked workers accept. A server socket's changes name the parent
// (its listener) until a worker accept()s it, then that worker: also a reset
// by the client (ESTABLISHED -> CLOSE in softirq context, where BCC's C-PID is
// whatever task the CPU ran) and a FIN (ESTABLISHED -> CLOSE_WAIT).
import { describe, it, expect } from 'vitest';
import { buildBins, capture, closed, expectChained, lifeOf, moves, runPrefork, type Capture, type PreforkRun } from './helpers.js';
import { expectCleanExit, tool, stopAfterEach } from '../../../test/support/cli.js';
import { waitFor } from '../../../test/support/wait.js';
import { builtBeforeAll } from '../../../test/support/once.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url));
const HEADER = 'SKADDR           C-PID C-COMM     LADDR           LPORT RADDR           RPORT OLDSTATE    -> NEWSTATE    MS';

const bins = builtBeforeAll(buildBins);
stopAfterEach();

/** The server socket of each connection of `r`, once closed. */
async function serverLives(c: Capture, r: PreforkRun) {
  const lives = () => r.clients.map((port) => lifeOf(c.events, r.port, port));
  expect(
    await waitFor(() => {
      c.tracer.flush();
      return lives().every(closed);
    }),
  ).toBe(true);
  return lives();
}

describe('prefork server: changes after accept() name the worker', () => {
  it('reset by the client (IPv4)', async () => {
    const c = capture();
    try {
      const r = await runPrefork(bins.prefork, 4, 3, 'reset');
      const lives = await serverLives(c, r);
      for (const [i, life] of lives.entries()) {
        const worker = r.workerOf.get(r.clients[i]!);
        expect(moves(life)).toEqual(['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE']);
        expect(life.map((x) => [x.pid, x.comm, x.owner])).toEqual([
          [r.masterPid, 'pf-master', 'listener'],
          [r.masterPid, 'pf-master', 'listener'],
          [worker, 'pf-worker', 'accept'],
        ]);
        expectChained(life);
      }
      expect(new Set(lives.map((l) => l.at(-1)!.pid)).size).toBe(3);
    } finally {
      c.close();
    }
  });

  it('closed by the client (IPv6)', async () => {
    const c = capture();
    try {
      const r = await runPrefork(bins.prefork, 6, 2, 'close');
      for (const [i, life] of (await serverLives(c, r)).entries()) {
        const worker = r.workerOf.get(r.clients[i]!);
        expect(moves(life)).toEqual(['LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE']);
        expect(life.map((x) => [x.pid, x.owner])).toEqual([
          [r.masterPid, 'listener'],
          [r.masterPid, 'listener'],
          [worker, 'accept'],
          [worker, 'task'],
          [worker, 'task'],
        ]);
      }
    } finally {
      c.close();
    }
  });

  it('the CLI prints the worker on the rows after accept()', async () => {
    const cli = await CLI.start([], HEADER);
    const r = await runPrefork(bins.prefork, 4, 2, 'reset');
    for (const port of r.clients) {
      const cols = `127.0.0.1       ${String(r.port).padEnd(5)} 127.0.0.1       ${String(port).padEnd(5)} `;
      const recv = await cli.row((x) => x.includes(`${cols}LISTEN      -> SYN_RECV`));
      const close = await cli.row((x) => x.includes(`${cols}ESTABLISHED -> CLOSE `));
      expect(recv.slice(17, 34)).toBe(`${String(r.masterPid).padEnd(5)} pf-master  `);
      expect(close.slice(17, 34)).toBe(`${String(r.workerOf.get(port)).padEnd(5)} pf-worker  `);
      expect(close.slice(0, 16)).toBe(recv.slice(0, 16)); // the same socket
    }
    expectCleanExit(await cli.stop());
  });
});
