// The container filters of the TCP tools read the socket's cgroup, not the
// current task's. Over loopback the server side's state changes run in
// softirq context on behalf of the client (its send delivers the packets):
// a filter on the current task would take the server's socket for the
// client's. Here a client in the test's cgroup talks to a server outside it:
// only the client's session is reported.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:net';
import { capture } from './helpers.js';
import { containers, type Containers } from '../../../test/support/container.js';
import { run } from '../../../test/support/workload.js';

let c: Containers;
let server: Server;
let port: number;
beforeAll(async () => {
  c = containers();
  // The server (this process, outside the cgroup) reads until the client closes, then closes.
  server = createServer((s) => s.on('data', () => {}).on('end', () => s.end()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  server?.close();
  await c?.cleanup();
});

/** A session from bash's /dev/tcp: connect, send a line, close. */
const client = (): [string, string[]] => ['bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}; echo hi >&3; exec 3>&-`]];

describe('container filters on sockets', () => {
  it('--cgroup: the session of the client in the cgroup, not the server side of it', async () => {
    const all = capture();
    const cg = capture({ cgroup: c.cgroup });
    try {
      const r = await run(...c.inCgroup(...client()));
      expect(r.code).toBe(0);
      // Unfiltered: both ends (the client's active socket, the server's accepted one).
      const ends = await all.waitForCount((e) => e.rport === port || e.lport === port, 2);
      expect(ends.map((e) => e.active).sort()).toEqual([false, true]);
      const mine = await cg.waitFor((e) => e.rport === port);
      expect([mine.active, mine.txBytes]).toEqual([true, 3]);
      expect(await cg.settled((e) => e.lport === port)).toEqual([]);
    } finally {
      all.close();
      cg.close();
    }
  });
});
