// The kit's container filters on a TCP tool: by the socket's cgroup (the one
// it was created in). A connect from a shell in the test's cgroup v2 child is
// reported; the same connect from outside is not.
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
  server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  server?.close();
  await c?.cleanup();
});

/** bash's /dev/tcp: one connect() to the server, made by the process run() reports. */
const argv = (): [string, string[]] => ['bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]];

describe('container filters (the socket cgroup)', () => {
  for (const how of ['cgroup', 'cgroupmap'] as const) {
    it(`${how}: connects from the test's cgroup, not from outside`, async () => {
      const cap = capture(how === 'cgroup' ? { cgroup: c.cgroup } : { cgroupmap: c.pinMap([c.cgroupId]) });
      try {
        const outside = await run(...argv());
        const inside = await run(...c.inCgroup(...argv()));
        expect([outside.code, inside.code]).toEqual([0, 0]);
        const ev = await cap.waitFor((e) => e.dport === port && e.pid === inside.pid);
        expect(ev.comm).toBe('bash');
        expect(await cap.settled((e) => e.dport === port && e.pid !== inside.pid)).toEqual([]);
      } finally {
        cap.close();
      }
    });
  }

  it('the API has no mntnsmap: a socket has no mount namespace', () => {
    expect(() => capture({ mntnsmap: '/sys/fs/bpf/x' } as never)).toThrow(/unknown option 'mntnsmap'/);
  });
});
