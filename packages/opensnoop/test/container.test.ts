// Container filters (--cgroup, --cgroupmap, --mntnsmap) against processes the
// test puts into a cgroup v2 child and a new mount namespace: only their opens
// are reported, not the same opens made outside. Pinned maps live in a bpffs
// the test mounts and removes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '@ebpf/core';
import type { OpenEvent } from '../src/index.js';
import { capture } from './helpers.js';
import { errorLine, tool } from '../../../test/support/cli.js';
import { cgroupIdOf, containers, type Containers } from '../../../test/support/container.js';
import { tempDir, uniq, type TempDir } from '../../../test/support/tmp.js';
import { run } from '../../../test/support/workload.js';
import { thrown } from '../../../test/support/wait.js';

const CLI = tool(new URL('../dist/cli.js', import.meta.url));

let c: Containers;
let tmp: TempDir;

beforeAll(() => {
  c = containers();
  tmp = tempDir('opensnoop-container-');
});

afterAll(async () => {
  await c?.cleanup();
  tmp?.cleanup();
});

/** A new file for one run to open; its path is what the events are matched by. */
function file(tag: string): string {
  const p = join(tmp.dir, uniq(tag));
  writeFileSync(p, 'x');
  return p;
}

const opened = (path: string) => (e: OpenEvent) => e.path === path;

describe('cgroupId', () => {
  it("an open carries the caller's cgroup id (the directory's inode), a failed one too; outside, this process's", async () => {
    const cap = capture();
    try {
      const inside = file('inside');
      const missing = join(tmp.dir, uniq('missing'));
      const outside = file('outside');
      const r = await run(...c.inCgroup('cat', [inside]));
      const rm = await run(...c.inCgroup('cat', [missing]));
      expect([r.code, rm.code]).toEqual([0, 1]);
      expect((await run('cat', [outside])).code).toBe(0);
      // By pid: this process opened the files too, to write them.
      const ev = await cap.waitFor((e) => e.pid === r.pid && e.path === inside);
      expect([ev.errno, ev.cgroupId]).toEqual([0, c.cgroupId]);
      const evm = await cap.waitFor((e) => e.pid === rm.pid && e.path === missing);
      expect([evm.errno, evm.cgroupId]).toEqual([2, c.cgroupId]);
      const evo = await cap.waitFor((e) => e.comm === 'cat' && e.path === outside);
      expect(evo.cgroupId).toBe(cgroupIdOf('self'));
      expect(evo.cgroupId).not.toBe(c.cgroupId);
    } finally {
      cap.close();
    }
  });
});

describe('container filters', () => {
  it('--cgroup: opens in the cgroup and below it, not outside', async () => {
    const cap = capture({ cgroup: c.cgroup });
    try {
      const outside = file('outside');
      const inside = file('inside');
      const below = file('below');
      expect((await run('cat', [outside])).code).toBe(0);
      expect((await run(...c.inCgroup('cat', [inside]))).code).toBe(0);
      expect((await run(...c.inCgroup('cat', [below], c.child))).code).toBe(0);
      await cap.waitFor(opened(inside));
      await cap.waitFor(opened(below));
      expect(await cap.settled(opened(outside))).toEqual([]);
    } finally {
      cap.close();
    }
  });

  it('--cgroupmap: opens of cgroups whose id is in the pinned map; entries added later count', async () => {
    const map = c.pinMap([c.cgroupId]);
    const cap = capture({ cgroupmap: map });
    try {
      const outside = file('outside');
      const inside = file('inside');
      const child = file('child');
      expect((await run('cat', [outside])).code).toBe(0);
      expect((await run(...c.inCgroup('cat', [child], c.child))).code).toBe(0); // its own id is not in the map
      expect((await run(...c.inCgroup('cat', [inside]))).code).toBe(0);
      await cap.waitFor(opened(inside));
      expect(await cap.settled((e) => e.path === outside || e.path === child)).toEqual([]);
      // The map is shared: an id added while tracing takes effect at once.
      c.addKey(map, statSync(c.child, { bigint: true }).ino);
      const later = file('later');
      expect((await run(...c.inCgroup('cat', [later], c.child))).code).toBe(0);
      await cap.waitFor(opened(later));
    } finally {
      cap.close();
    }
  });

  it('--mntnsmap: opens in mount namespaces in the pinned map, not in this one', async () => {
    const outside = file('outside');
    const inside = file('inside');
    const w = await c.inMountNs('cat', [inside]);
    const cap = capture({ mntnsmap: c.pinMap([w.mntns]) });
    try {
      expect((await run('cat', [outside])).code).toBe(0);
      expect((await w.go()).code).toBe(0);
      const ev = await cap.waitFor(opened(inside));
      expect(ev.pid).toBe(w.proc.pid);
      expect(await cap.settled(opened(outside))).toEqual([]);
    } finally {
      cap.close();
    }
  });

  it('the CLI: --cgroup and --cgroupmap together filter in the kernel', async () => {
    const map = c.pinMap([c.cgroupId]);
    const cli = await CLI.start(['--cgroup', c.cgroup, '--cgroupmap', map], 'PID    COMM               FD ERR PATH');
    try {
      const outside = file('outside');
      const inside = file('inside');
      expect((await run('cat', [outside])).code).toBe(0);
      const r = await run(...c.inCgroup('cat', [inside]));
      await cli.waitRows((l) => l.endsWith(` ${inside}`), 1);
      expect(cli.lines().filter((l) => l.endsWith(` ${outside}`))).toEqual([]);
      expect(cli.rows(r.pid).length).toBeGreaterThan(0);
    } finally {
      await cli.stop();
    }
  });

  it('bad paths and maps: one line each, exit 2, nothing loaded', async () => {
    const plain = join(tmp.dir, 'x'); // not on a bpffs
    writeFileSync(plain, '');
    const cases: Array<[string[], RegExp]> = [
      [['--cgroup', '/nonexistent/cg'], /^opensnoop: --cgroup \/nonexistent\/cg: no such path$/],
      [['--cgroup', tmp.dir], /^opensnoop: --cgroup .*: not a cgroup v2 directory \(cgroup v2 is mounted at .*\)$/],
      [['--cgroupmap', '/sys/fs/bpf-nonexistent/m'], /^opensnoop: --cgroupmap \/sys\/fs\/bpf-nonexistent\/m: no such path$/],
      [['--mntnsmap', plain], /^opensnoop: --mntnsmap .*: not a pinned BPF map \(it is not on a bpffs; pin maps under \/sys\/fs\/bpf\)$/],
    ];
    for (const [args, re] of cases) expect(errorLine(await CLI.run(args), 2, args.join(' '))).toMatch(re);
  });

  it('a pinned map of the wrong shape is refused in one line', async () => {
    const m = c.pinMap([]);
    const wrong = `${m}-k4`;
    execFileSync('bpftool', ['map', 'create', wrong, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '4', 'name', 'k4']);
    const arr = `${m}-array`;
    execFileSync('bpftool', ['map', 'create', arr, 'type', 'array', 'key', '4', 'value', '8', 'entries', '4', 'name', 'arr']);
    expect(errorLine(await CLI.run(['--cgroupmap', wrong]), 2)).toBe(`opensnoop: --cgroupmap ${wrong}: its keys are 4 bytes; expected a u64 (8 bytes)`);
    expect(errorLine(await CLI.run(['--mntnsmap', arr]), 2)).toBe(`opensnoop: --mntnsmap ${arr}: a BPF map of type array; expected a hash map keyed by u64`);
    // The API: the same checks, as UsageErrors.
    expect(thrown(() => capture({ cgroupmap: wrong }))).toBeInstanceOf(UsageError);
  });
});
