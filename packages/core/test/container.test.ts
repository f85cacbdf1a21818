// The kit's container pieces against the real cgroup v2 hierarchy and a real
// bpffs: a directory's cgroup id and depth (what --cgroup filters by), and
// the checks on a pinned map (--cgroupmap, --mntnsmap). The filters in the
// kernel are tested through the tools (opensnoop, execsnoop, biolatency,
// runqlat, tcpconnlat: test/container.test.ts in each).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../src/index.js';
import { native } from '../src/native/load.js';
import { openPinnedKeyMap, resolveCgroup } from '../src/kit/index.js';
import { cgroup2Root, containers, type Containers } from '../../../test/support/container.js';

let c: Containers;
beforeAll(() => {
  c = containers();
});
afterAll(async () => {
  await c?.cleanup();
});

const depth = (path: string) => path.slice(cgroup2Root().length).split('/').filter(Boolean).length;

describe('resolveCgroup', () => {
  it("a directory's id is its inode number; its level its depth below the v2 root", () => {
    const grandchild = join(c.child, 'g');
    mkdirSync(grandchild);
    try {
      for (const dir of [cgroup2Root(), c.cgroup, c.child, grandchild]) {
        expect(resolveCgroup(dir)).toEqual({ id: statSync(dir, { bigint: true }).ino, level: depth(dir) });
      }
      expect(resolveCgroup(cgroup2Root()).level).toBe(0);
      expect(resolveCgroup(`${c.child}/../child/g/`).level).toBe(depth(c.cgroup) + 2); // resolved first
    } finally {
      rmdirSync(grandchild);
    }
  });

  it('one UsageError line for what is not a cgroup v2 directory', () => {
    expect(() => resolveCgroup('/nonexistent')).toThrow(new UsageError('--cgroup /nonexistent: no such path'));
    expect(() => resolveCgroup('/tmp')).toThrow(/^--cgroup \/tmp: not a cgroup v2 directory \(cgroup v2 is mounted at /);
    expect(() => resolveCgroup(join(c.cgroup, 'cgroup.procs'))).toThrow(/: not a cgroup v2 directory/);
  });
});

describe('openPinnedKeyMap', () => {
  it('a pinned hash map keyed by u64: its fd', () => {
    const fd = openPinnedKeyMap(c.pinMap([1n]), '--cgroupmap');
    try {
      expect(native().mapInfo(fd)).toMatchObject({ type: 'hash', keySize: 8 });
    } finally {
      native().closeFd(fd);
    }
  });

  it('anything else: one UsageError line naming the flag and the path', () => {
    const base = c.pinMap([]);
    const k4 = `${base}-k4`;
    execFileSync('bpftool', ['map', 'create', k4, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '4', 'name', 'k4']);
    const cases: Array<[string, string]> = [
      ['/nonexistent/map', '--mntnsmap /nonexistent/map: no such path'],
      ['/tmp', '--mntnsmap /tmp: not a pinned BPF map (it is not on a bpffs; pin maps under /sys/fs/bpf)'],
      [k4, `--mntnsmap ${k4}: its keys are 4 bytes; expected a u64 (8 bytes)`],
    ];
    for (const [path, message] of cases) {
      let err: unknown;
      try {
        openPinnedKeyMap(path, '--mntnsmap');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toBe(message);
    }
  });
});
