// The kit's container filters on execsnoop's command line: execs inside the
// test's cgroup v2 child (--cgroup, --cgroupmap) and inside a new mount
// namespace (--mntnsmap) are printed; the same command run outside is not.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { tool } from '../../../test/support/cli.js';
import { cgroupIdOf, containers, type Containers } from '../../../test/support/container.js';
import { statSync } from 'node:fs';
import { capture } from './helpers.js';
import { uniq } from '../../../test/support/tmp.js';
import { run } from '../../../test/support/workload.js';

const HEADER = 'PCOMM            PID     PPID    RET ARGS';
const CLI = tool(new URL('../dist/cli.js', import.meta.url), { ready: HEADER, pidColumn: 17 });

let c: Containers;
beforeAll(() => {
  c = containers();
});
afterAll(async () => {
  await c?.cleanup();
});

/** The row of `/bin/echo MARK`, whoever ran it. */
const echoed = (mark: string) => (line: string) => line.endsWith(`/bin/echo ${mark}`);

describe('cgroupId', () => {
  it("an exec carries its cgroup's id (the directory's inode): the test's cgroup, its child, this process's outside", async () => {
    const cap = capture();
    try {
      const [inside, below, outside] = [uniq('inside'), uniq('below'), uniq('outside')];
      const r = await run(...c.inCgroup('/bin/echo', [inside]));
      const rb = await run(...c.inCgroup('/bin/echo', [below], c.child));
      const ro = await run('/bin/echo', [outside]);
      const ev = await cap.waitFor((e) => e.args[0] === inside);
      expect([ev.pid, ev.cgroupId]).toEqual([r.pid, c.cgroupId]);
      const evb = await cap.waitFor((e) => e.args[0] === below);
      expect([evb.pid, evb.cgroupId]).toEqual([rb.pid, statSync(c.child, { bigint: true }).ino]);
      const evo = await cap.waitFor((e) => e.args[0] === outside);
      expect([evo.pid, evo.cgroupId]).toEqual([ro.pid, cgroupIdOf('self')]);
      expect(new Set([c.cgroupId, evb.cgroupId, evo.cgroupId]).size).toBe(3);
    } finally {
      cap.close();
    }
  });
});

describe('container filters', () => {
  for (const flag of ['--cgroup', '--cgroupmap'] as const) {
    it(`${flag}: execs in the test's cgroup, not outside`, async () => {
      const cli = await CLI.start([flag, flag === '--cgroup' ? c.cgroup : c.pinMap([c.cgroupId])]);
      try {
        const outside = uniq('outside');
        const inside = uniq('inside');
        expect((await run('/bin/echo', [outside])).code).toBe(0);
        const r = await run(...c.inCgroup('/bin/echo', [inside]));
        expect(await cli.row(echoed(inside))).toContain(` ${r.pid} `);
        expect(cli.rows(echoed(outside))).toEqual([]);
      } finally {
        await cli.stop();
      }
    });
  }

  it("--mntnsmap: execs in the namespace in the map, not in this one", async () => {
    const inside = uniq('inside');
    const w = await c.inMountNs('/bin/echo', [inside]);
    const cli = await CLI.start(['--mntnsmap', c.pinMap([w.mntns])]);
    try {
      const outside = uniq('outside');
      expect((await run('/bin/echo', [outside])).code).toBe(0);
      expect((await w.go()).code).toBe(0);
      expect(await cli.row(echoed(inside))).toContain(` ${w.proc.pid} `);
      expect(cli.rows(echoed(outside))).toEqual([]);
    } finally {
      await cli.stop();
    }
  });
});
