// The kit's container pieces against the real cgroup v2 hierarchy and a real
// bpffs: a directory's cgroup id and depth (what --cgroup filters by), and
// the checks on a pinned map (--cgroupmap, --mntnsmap). The filters in the
// kernel are tested through the tools (opensnoop, execsnoop, biolatency,
// runqlat, tcpconnlat: test/container.test.ts in each).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../src/index.js';
import { native } from '../src/native/load.js';
import { CgroupPaths, openPinnedKeyMap, resolveCgroup } from '../src/kit/index.js';
import { cgroup2Root, cgroupIdOf, containers, type Containers } from '../../../test/support/container.js';

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

describe('CgroupPaths', () => {
  const id = (dir: string) => statSync(dir, { bigint: true }).ino;
  const path = (dir: string) => `/${dir.slice(cgroup2Root().length + 1)}`;

  it("names ids by their path in the v2 hierarchy: the root '/', the test's cgroups, this process's", () => {
    const p = new CgroupPaths();
    expect(p.mountPoint).toBe(cgroup2Root());
    expect(p.path(id(cgroup2Root()))).toBe('/');
    expect(p.path(c.cgroupId)).toBe(path(c.cgroup));
    expect(p.path(id(c.child))).toBe(`${path(c.cgroup)}/child`);
    const self = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
    expect(p.path(cgroupIdOf('self'))).toBe(self);
  });

  it('an id it does not know: a new walk, at most once per interval; a removed cgroup is unknown', () => {
    const lazy = new CgroupPaths(1e9); // no walk for a miss within 11 days
    const eager = new CgroupPaths(0);
    const late = join(c.cgroup, 'late');
    mkdirSync(late);
    let removed = false;
    try {
      const lateId = id(late);
      expect([lazy.path(lateId), lazy.scans]).toEqual([undefined, 1]); // made after the walk, and no new one yet
      expect(lazy.path(lateId)).toBeUndefined();
      expect(lazy.scans).toBe(1);
      expect([eager.path(lateId), eager.scans]).toEqual([`${path(c.cgroup)}/late`, 2]);
      expect(eager.path(lateId)).toBe(`${path(c.cgroup)}/late`); // a hit walks nothing
      expect(eager.scans).toBe(2);
      lazy.rescan();
      expect(lazy.path(lateId)).toBe(`${path(c.cgroup)}/late`);
      rmdirSync(late);
      removed = true;
      expect(eager.path(lateId)).toBe(`${path(c.cgroup)}/late`); // known until the next walk
      eager.rescan();
      expect(eager.known(lateId)).toBeUndefined();
      expect(eager.path(lateId)).toBeUndefined(); // walked again: still nobody's
    } finally {
      if (!removed) rmdirSync(late);
    }
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
